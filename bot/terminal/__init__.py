"""The `smtpcheck` terminal command and its plain-text renderer."""
