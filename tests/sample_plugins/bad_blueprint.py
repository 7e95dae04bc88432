from flask import Blueprint


class Plugin:
    def init(self, app, registry):
        registry.blueprint(Blueprint("whatever", __name__))
