from django.urls import path

from . import views

app_name = "labfeeds"
urlpatterns = [
    path("waiting/", views.WaitingListView.as_view(), name="waiting"),
    path("waiting/<int:pk>/match/", views.WaitingMatchView.as_view(), name="waiting_match"),
    path("waiting/<int:pk>/dismiss/", views.WaitingDismissView.as_view(), name="waiting_dismiss"),
    path("connections/", views.ConnectionsView.as_view(), name="connections"),
    path("connections/new/", views.ConnectionCreateView.as_view(), name="connection_create"),
    path("connections/<int:pk>/edit/", views.ConnectionEditView.as_view(), name="connection_edit"),
    path(
        "connections/<int:pk>/switch/",
        views.ConnectionSwitchView.as_view(),
        name="connection_switch",
    ),
    path("tokens/new/", views.TokenCreateView.as_view(), name="token_create"),
    path("tokens/<int:pk>/", views.TokenCreatedView.as_view(), name="token_created"),
    path("tokens/<int:pk>/revoke/", views.TokenRevokeView.as_view(), name="token_revoke"),
    path("clinics/<int:pk>/retention/", views.RetentionView.as_view(), name="retention"),
]
