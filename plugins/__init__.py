"""Built-in interestkit plugins, registered through the same hooks as third-party ones.

This folder ships in the interestkit wheel as the package ``interestkit_plugins``.
"""
