from django.urls import path

from safetrain.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.password_change_view, name="password_change"),
    path("two-factor/", views.two_factor_view, name="two_factor"),
    path("profile/", views.profile_view, name="profile"),
    path("notices/<int:notice_id>/read/", views.notice_read_view, name="notice_read"),
    path("people/", views.people_view, name="people"),
    path("password/forgot/", views.password_forgot_view, name="password_forgot"),
    path("password/reset/", views.password_reset_code_view, name="password_reset_code"),
    path(
        "people/<int:user_id>/password-reset/", views.person_password_reset_view, name="person_password_reset"
    ),
    path("guide/dismiss/", views.guide_dismiss_view, name="guide_dismiss"),
]
