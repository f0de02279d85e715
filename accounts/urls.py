from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("two-factor/setup/", views.TwoFactorSetupView.as_view(), name="two_factor_setup"),
    path("two-factor/", views.TwoFactorVerifyView.as_view(), name="two_factor_verify"),
]
