from django.contrib.auth.hashers import PBKDF2PasswordHasher


class ChargePointKeyHasher(PBKDF2PasswordHasher):
    """Hash charge point passwords (OCPP AuthorizationKey) with fewer rounds.

    Every (re)connect checks the key; a reconnect storm of hundreds of charge
    points must not burn seconds of CPU each. The keys are 16-40 characters
    chosen by machines or operators, so a lower work factor stays safe.
    """

    algorithm = "pbkdf2_sha256_cp"
    iterations = 20_000
