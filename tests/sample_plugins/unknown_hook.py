class Plugin:
    def init(self, app, registry):
        registry.template_hook("footer_of_everything", lambda: "")
