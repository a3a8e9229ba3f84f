"""The page crawl shared by tests/browser/test_crawl.py and `make screenshots` (scripts/screenshots.py).

Each demo role signs in and collects the pages its menus reach (every link of the main menu and the phone's tab
bar) and one level of links from its desk (首页): same origin, GET only, no sign-out, no file downloads. On every
page the crawl checks what a Chinese user must never meet: a server error, English UI text or a raw internal code,
and a page that scrolls sideways on a phone (390×844).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}
LEARNER_PASSWORD = "Crawl#2026"


@dataclass(frozen=True)
class Role:
    key: str
    pick: tuple[str, str]  # (role, organisation) of the demo account
    account: str = ""  # the demo account's key, for a learner nobody else's browser test uses


# One demo account per role. The learner is the short programme's first learner (quick01): no other browser test
# signs in as it (its first sign-in replaces the initial password, the only change the crawl makes). The others
# only read.
ROLES = (
    Role("learner", ("learner", "广州市明达商贸有限公司"), account="quick01"),
    Role("enterprise_admin", ("enterprise_admin", "深圳市安建建设集团有限公司")),
    Role("project_admin", ("enterprise_admin", "南山科技园二期项目")),
    Role("institution_admin", ("institution_admin", "广州市安全生产培训中心")),
    Role("regulator", ("regulator", "深圳市应急管理局")),
    Role("operator", ("operator", "安训平台运营中心")),
)

# Never followed: they sign out, switch the language, or answer with a file instead of a page.
SKIP = re.compile(
    r"/logout|/i18n/|/admin/logout|[?&](format|download|export)=|\.(pdf|xlsx|xls|csv|zip|png|jpe?g|svg|mp4|m3u8)($|\?)"
    r"|/(pdf|xlsx|export|download|image|qr)/?($|\?)",
)

# Words a Chinese page may show in Latin letters (file formats, product names, units).
ALLOWED_WORDS = set(
    """pdf excel id url qr wps word app ok email e-mail sms ip api csv mp4 xlsx xls hls ca gb mb kb tb cpu usb ai
    wifi wi-fi vpn http https www com cn org net safetrain totp otp chrome edge safari firefox android ios iphone
    ipad windows wechat alipay echarts utc gmt x""".split()
)
# Visible text of the page: text nodes outside script/style/noscript/template and outside anything marked as
# another language (the footer's language list names each language in itself), plus placeholders and button values.
TEXTS_JS = """
() => {
  const skip = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "CODE", "PRE", "KBD", "SAMP"]);
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.nodeValue.replace(/\\s+/g, " ").trim();
    if (!text) continue;
    const el = node.parentElement;
    if (!el || skip.has(el.tagName) || el.closest("script,style,noscript,template,code,pre,[data-crawl-ignore]")) continue;
    const lang = el.closest("[lang]");
    if (lang && !lang.lang.toLowerCase().startsWith("zh")) continue;
    out.push(text);
  }
  for (const el of document.querySelectorAll("[placeholder], input[type=submit][value], input[type=button][value]")) {
    const text = (el.getAttribute("placeholder") || el.value || "").trim();
    if (text) out.push(text);
  }
  return out;
}
"""
# What sticks out on the right at phone width: the outermost elements wider than the viewport, for the report.
OVERFLOW_JS = """
() => {
  const root = document.scrollingElement;
  if (root.scrollWidth <= root.clientWidth + 1) return null;
  const width = root.clientWidth;
  const culprits = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.right <= width + 1 || box.width === 0) continue;
    if (el.parentElement && el.parentElement.getBoundingClientRect().right > width + 1) continue;
    const cls = el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : "";
    culprits.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${cls} (${Math.round(box.right)}px)`);
    if (culprits.length >= 3) break;
  }
  return {scrollWidth: root.scrollWidth, clientWidth: width, culprits};
}
"""
MENU_LINKS_JS = (
    "() => [...document.querySelectorAll('header nav a[href], nav.tabbar a[href]')].map(a => a.href)"
)
DESK_LINKS_JS = "() => [...document.querySelectorAll('main a[href]')].filter(a => !a.hasAttribute('download')).map(a => a.href)"

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
# A Latin word: letters, maybe joined by - or '; tokens with digits (codes, numbers, usernames) are never words.
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.'@/:-]*")
WORD = re.compile(r"^[A-Za-z]+(?:['-][A-Za-z]+)*$")
URLISH = re.compile(r"^(https?://|www\.)|@|\.(cn|com|org|net)\b|/")


def english_in(text: str) -> list[str]:
    """What in one piece of visible text reads as English UI text or a raw internal code (a heuristic): any
    snake_case token, and any Latin word outside ALLOWED_WORDS that is not in capitals (acronyms, codes of data such
    as DEMO-QUICK) or a code with digits."""
    found = [f"raw code {m.group(0)!r}" for m in SNAKE.finditer(text)]
    words = []
    for token in TOKEN.findall(text):
        token = token.strip(".:'/-")
        if not token or URLISH.search(token) or not WORD.match(token):
            continue  # URLs, e-mail addresses, numbers, codes with digits
        if token.lower() in ALLOWED_WORDS or token.isupper() or "_" in token:  # acronyms, codes (DEMO-QUICK)
            continue
        words.append(token)
    if words:
        found.append(f"English {' '.join(words)!r} in {text[:80]!r}")
    return found


@dataclass
class Problem:
    role: str
    path: str
    kind: str  # "5xx", "english", "sideways"
    detail: str

    def __str__(self) -> str:
        return f"[{self.role}] {self.path}: {self.kind}: {self.detail}"


@dataclass
class RoleCrawl:
    role: str
    pages: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def account_for(accounts: list[dict], role: Role) -> dict:
    kind, organisation = role.pick
    matches = [a for a in accounts if a["role"] == kind and a["organisation"] == organisation]
    if role.account:
        return next(a for a in matches if a["key"] == role.account)
    return matches[0]


def sign_in_as(page, url: str, account: dict, *, new_password: str = LEARNER_PASSWORD) -> None:
    """Sign in; a demo learner's first sign-in replaces the initial password (later ones use the new one)."""
    for password in (account["password"], new_password):
        page.goto(f"{url}/accounts/login/")
        page.fill("input[name=username]", account["username"])
        page.fill("input[name=password]", password)
        page.click("button[type=submit].primary")
        page.wait_for_load_state()
        if urlsplit(page.url).path != "/accounts/login/":
            break
    if urlsplit(page.url).path == "/accounts/password/":
        page.fill("input[name=old_password]", account["password"])
        page.fill("input[name=new_password1]", new_password)
        page.fill("input[name=new_password2]", new_password)
        page.click("button[type=submit].primary")
        page.wait_for_load_state()
    if urlsplit(page.url).path != "/":
        raise AssertionError(f"{account['role']} {account['organisation']}: not signed in, at {page.url}")


def same_origin_pages(base: str, hrefs: list[str]) -> list[str]:
    """Paths (with query) of the links that stay on the site and are pages, in first-seen order."""
    origin = urlsplit(base)
    seen: dict[str, None] = {}
    for href in hrefs:
        parts = urlsplit(urljoin(base + "/", href))
        if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if SKIP.search(path) or parts.path.startswith(("/static/", "/media/", "/files/")):
            continue
        seen.setdefault(path, None)
    return list(seen)


def pages_of(page, base: str) -> list[str]:
    """The signed-in user's pages: the desk, its menus, and one level of links from the desk."""
    page.goto(f"{base}/")
    return same_origin_pages(base, ["/", *page.evaluate(MENU_LINKS_JS), *page.evaluate(DESK_LINKS_JS)])


def check_page(page, base: str, role: str, path: str) -> list[Problem]:
    """Open one page at phone width and report what is wrong with it."""
    from playwright.sync_api import Error

    try:
        # The styles are in by DOMContentLoaded (they hold back the deferred scripts); images cannot widen a page.
        response = page.goto(base + path, wait_until="domcontentloaded")
    except Error as error:
        if "Download is starting" in str(error):
            return []
        raise
    problems = []
    if response is None:
        return problems
    if response.status >= 500:
        return [Problem(role, path, "5xx", f"HTTP {response.status}")]
    if "text/html" not in (response.headers.get("content-type") or ""):
        return problems
    overflow = page.evaluate(OVERFLOW_JS)
    if overflow:
        problems.append(
            Problem(
                role,
                path,
                "sideways",
                f"{overflow['scrollWidth']}px wide in {overflow['clientWidth']}px: {', '.join(overflow['culprits'])}",
            )
        )
    seen: set[str] = set()
    for text in page.evaluate(TEXTS_JS):
        for finding in english_in(text):
            if finding not in seen:
                seen.add(finding)
                problems.append(Problem(role, path, "english", finding))
    return problems


def crawl_role(browser, base: str, accounts: list[dict], role: Role, *, shoot=None) -> RoleCrawl:
    """Sign in as the role at phone size, collect its pages and check each one. `shoot(page, role, path, size)`,
    when given, is called on every page at both sizes (the screenshots)."""
    result = RoleCrawl(role.key)
    context = browser.new_context(locale="zh-CN", viewport=PHONE)
    page = context.new_page()
    try:
        sign_in_as(page, base, account_for(accounts, role))
        result.pages = pages_of(page, base)
        for path in result.pages:
            result.problems.extend(check_page(page, base, role.key, path))
            if shoot is not None:
                shoot(page, role.key, path, "phone")
        if shoot is not None:
            page.set_viewport_size(DESKTOP)
            for path in result.pages:
                try:
                    page.goto(base + path)
                except Exception:  # noqa: BLE001 - a download: nothing to see
                    continue
                shoot(page, role.key, path, "desktop")
    finally:
        context.close()
    return result
