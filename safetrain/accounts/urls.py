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
]
