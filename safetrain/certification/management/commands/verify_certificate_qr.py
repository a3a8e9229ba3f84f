"""`manage.py verify_certificate_qr IMAGE [--public-key FILE]`: read the QR code of a certificate from a photo, a
scan or the PDF itself and check its Ed25519 signature offline (CERT-04). Exit status 0 when valid, 1 when not."""

from __future__ import annotations

from pathlib import Path

import zxingcpp
from django.core.management.base import BaseCommand, CommandError
from PIL import Image

from safetrain.certification import signing


def images_of(path: Path) -> list[Image.Image]:
    if path.suffix.lower() == ".pdf":
        import pypdfium2 as pdfium

        return [page.render(scale=3).to_pil() for page in pdfium.PdfDocument(str(path))]
    return [Image.open(path)]


def qr_texts(path: Path) -> list[str]:
    texts = []
    for image in images_of(path):
        texts += [r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]
    return texts


class Command(BaseCommand):
    help = "Check the signed QR code of a certificate (image or PDF) offline with the platform's public key."

    def add_arguments(self, parser) -> None:
        parser.add_argument("image", type=Path)
        parser.add_argument(
            "--public-key", type=Path, help="PEM file of the platform's public key (default: this platform's)"
        )

    def handle(self, *args, **options) -> None:
        path: Path = options["image"]
        if not path.is_file():
            raise CommandError(f"没有这个文件：{path}")
        try:
            key = (
                signing.load_public_key(options["public_key"].read_bytes()) if options["public_key"] else None
            )
        except (OSError, ValueError) as exc:
            raise CommandError(f"公钥文件无法读取：{exc}") from exc
        try:
            texts = qr_texts(path)
        except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same plain message
            raise CommandError(f"无法读取图片或 PDF：{exc}") from exc
        if not texts:
            raise CommandError("图片中没有找到二维码：请拍清楚证书右下角或左下角的二维码后重试。")
        checked = signing.check_qr_text(texts[0], key)
        for name, value in checked.payload.items():
            self.stdout.write(f"{name}: {value}")
        if checked.signature_valid:
            self.stdout.write(
                self.style.SUCCESS(f"签名有效：证书 {checked.number} 由本平台签发，内容未被改动。")
            )
            return
        reasons = {
            "bad_signature": "签名无效：二维码内容被改动，或不是本平台签发。",
            "malformed": "二维码内容格式不正确。",
            "not_a_certificate_qr": "这不是本平台证书的二维码。",
            "number_mismatch": "二维码中的证书编号与签名内容不一致。",
        }
        self.stderr.write(self.style.ERROR(reasons.get(checked.problem, "签名无效。")))
        raise SystemExit(1)
