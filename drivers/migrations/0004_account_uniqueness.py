"""Usernames and e-mail addresses unique ignoring case (one person, one account).

The constraints join the model state at once (model validation refuses new
duplicates everywhere); each database index is created only when no stored
group of duplicates blocks it. Existing duplicates are real accounts: they
are neither renamed nor merged, but logged, and a later `migrate` creates the
index once an operator has resolved them (drivers/account_indexes.py).
"""

import django.db.models.functions.text
from django.db import migrations, models

import drivers.models
from drivers.account_indexes import account_indexes_drop, account_indexes_ensure


def create_indexes_unless_duplicates(apps, schema_editor):
    account_indexes_ensure(model=apps.get_model("drivers", "User"), schema_editor=schema_editor)


def drop_indexes(apps, schema_editor):
    account_indexes_drop(model=apps.get_model("drivers", "User"), schema_editor=schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('drivers', '0003_id_tag_taken_message'),
    ]

    operations = [
        migrations.AlterModelManagers(
            name='user',
            managers=[
                ('objects', drivers.models.UserManager()),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddConstraint(
                    model_name='user',
                    constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('username'), name='user_username_ci_unique', violation_error_code='username_taken', violation_error_message='A user with that username already exists (usernames ignore case).'),
                ),
                migrations.AddConstraint(
                    model_name='user',
                    constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('email'), condition=models.Q(('email', ''), _negated=True), name='user_email_ci_unique', violation_error_code='email_taken', violation_error_message='An account with this e-mail address exists.'),
                ),
            ],
        ),
        migrations.RunPython(create_indexes_unless_duplicates, drop_indexes),
    ]
