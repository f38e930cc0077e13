"""The Kivy tablet app: one module and one kv file per screen, bound to `mobile.client`."""
