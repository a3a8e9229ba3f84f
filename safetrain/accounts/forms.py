from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("ID number or mobile phone"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True, "inputmode": "text"}),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    captcha_key = forms.CharField(required=False, widget=forms.HiddenInput)
    captcha_value = forms.CharField(label=_("Captcha"), required=False, max_length=16)


class NewPasswordForm(forms.Form):
    """A new password typed twice; the password rules themselves are the services' (ACC-03)."""

    new_password1 = forms.CharField(
        label=_("New password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    new_password2 = forms.CharField(
        label=_("New password again"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        data = super().clean()
        if data.get("new_password1") and data.get("new_password1") != data.get("new_password2"):
            self.add_error("new_password2", _("The two new passwords do not match."))
        return data


class PasswordChangeForm(NewPasswordForm):
    old_password = forms.CharField(
        label=_("Current password"), widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    field_order = ["old_password", "new_password1", "new_password2"]


class OtpForm(forms.Form):
    otp_token = forms.CharField(
        label=_("6-digit code from your authenticator app"),
        max_length=10,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class ProfileForm(forms.Form):
    education = forms.ChoiceField(
        label=_("Education"),
        required=False,
        choices=[
            ("", "—"),
            ("primary", _("Primary school")),
            ("junior", _("Junior middle school")),
            ("senior", _("Senior middle school / technical school")),
            ("college", _("College")),
            ("bachelor", _("Bachelor")),
            ("postgraduate", _("Postgraduate")),
        ],
    )
    years_in_safety_work = forms.IntegerField(
        label=_("Years in safety work"), required=False, min_value=0, max_value=60
    )
    address = forms.CharField(label=_("Address"), required=False, max_length=200)


class PeopleFilterForm(forms.Form):
    organisation = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(
        label=pgettext_lazy("person", "Full name"),
        required=False,
        max_length=50,
        help_text=_("The whole name, as on the ID card."),
    )
    id_number = forms.CharField(label=_("ID number"), required=False, max_length=20)


class PasswordForgotForm(forms.Form):
    username = forms.CharField(
        label=_("ID number or mobile phone"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "username", "inputmode": "text"}),
    )


class PasswordResetCodeForm(NewPasswordForm):
    field_order = ["code", "new_password1", "new_password2"]

    code = forms.CharField(
        label=_("6-digit code from the SMS"),
        max_length=10,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )
