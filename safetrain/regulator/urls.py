from django.urls import path

from safetrain.regulator import views

app_name = "regulator"

urlpatterns = [
    path("regulator/registrations/", views.registrations_view, name="registrations"),
    path("regulator/registrations/apply/", views.apply_view, name="apply"),
    path("regulator/registrations/<int:registration_id>/", views.registration_view, name="registration"),
    path(
        "regulator/registrations/<int:registration_id>/commitment/", views.commitment_view, name="commitment"
    ),
    path("institutions/", views.public_cities_view, name="public_cities"),
    path("institutions/<str:code>/", views.public_city_view, name="public_city"),
    path("feedback/", views.feedback_view, name="feedback"),
    path("feedback/manage/", views.feedback_manage_view, name="feedback_manage"),
    path("feedback/manage/<str:number>/", views.feedback_handle_view, name="feedback_handle"),
    path("feedback/<str:token>/", views.feedback_item_view, name="feedback_item"),
    path("survey/<int:survey_id>/", views.survey_view, name="survey"),
    path("regulator/surveys/", views.survey_results_view, name="survey_results_latest"),
    path("regulator/surveys/<int:survey_id>/", views.survey_results_view, name="survey_results"),
    path("regulator/dashboard/", views.dashboard_view, name="dashboard"),
    path("regulator/learners/", views.learner_search_view, name="learner_search"),
]
