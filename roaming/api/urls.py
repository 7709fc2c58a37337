from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("roaming/parties", views.PartyViewSet, basename="roaming-party")

urlpatterns = router.urls
