"""OCPI 2.2.1 roaming in the charge point operator (CPO) role."""
