from django.http import HttpResponse
from django.urls import path
from oauth2_provider.views.generic import ProtectedResourceView


class ResourceView(ProtectedResourceView):
    def get(self, request):
        return HttpResponse("protected resource")


urlpatterns = [path("resource/", ResourceView.as_view())]
