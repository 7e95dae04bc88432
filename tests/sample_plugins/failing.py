class Plugin:
    def init(self, app, registry):
        raise RuntimeError("the MSSanté certificate is missing")
