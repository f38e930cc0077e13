"""The database itself refuses a person on a unit of another kind: an officer on a CARE team
(which would open CARE's clinical stream to police), a responder on an SPD unit, or anyone who
rides no units (dispatchers, coordinators, supervisors) set on one. Written as triggers because the
rule spans two tables, and an `.update()` or a raw query would skip model validation."""

from django.db import migrations

FITS = (
    "((p_role = 'care_responder' AND u_kind = 'care') "
    "OR (p_role = 'spd_officer' AND u_kind = 'spd'))"
)
MESSAGE = "a person rides only units of the kind their role rides"


def _fits(role: str, kind: str) -> str:
    return FITS.replace("p_role", role).replace("u_kind", kind)


SQLITE = [
    f"""CREATE TRIGGER person_unit_fits_insert BEFORE INSERT ON accounts_user
    WHEN NEW.unit_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM dispatch_unit u WHERE u.id = NEW.unit_id AND {_fits("NEW.role", "u.kind")})
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER person_unit_fits_update BEFORE UPDATE OF role, unit_id ON accounts_user
    WHEN NEW.unit_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM dispatch_unit u WHERE u.id = NEW.unit_id AND {_fits("NEW.role", "u.kind")})
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER shift_fits_person BEFORE INSERT ON dispatch_shift
    WHEN NOT EXISTS (
        SELECT 1 FROM accounts_user p, dispatch_unit u
        WHERE p.id = NEW.user_id AND u.id = NEW.unit_id AND {_fits("p.role", "u.kind")})
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER unit_kind_fits_riders BEFORE UPDATE OF kind ON dispatch_unit
    WHEN EXISTS (
        SELECT 1 FROM accounts_user p WHERE p.unit_id = NEW.id AND NOT {_fits("p.role", "NEW.kind")})
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
]

POSTGRES = [
    f"""CREATE FUNCTION person_unit_fits() RETURNS trigger AS $$
    BEGIN
        IF NEW.unit_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM dispatch_unit u WHERE u.id = NEW.unit_id AND {_fits("NEW.role", "u.kind")})
        THEN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER person_unit_fits BEFORE INSERT OR UPDATE OF role, unit_id ON accounts_user
    FOR EACH ROW EXECUTE FUNCTION person_unit_fits()""",
    f"""CREATE FUNCTION shift_fits_person() RETURNS trigger AS $$
    BEGIN
        IF NOT EXISTS (
            SELECT 1 FROM accounts_user p, dispatch_unit u
            WHERE p.id = NEW.user_id AND u.id = NEW.unit_id AND {_fits("p.role", "u.kind")})
        THEN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER shift_fits_person BEFORE INSERT ON dispatch_shift
    FOR EACH ROW EXECUTE FUNCTION shift_fits_person()""",
    f"""CREATE FUNCTION unit_kind_fits_riders() RETURNS trigger AS $$
    BEGIN
        IF EXISTS (
            SELECT 1 FROM accounts_user p WHERE p.unit_id = NEW.id AND NOT {_fits("p.role", "NEW.kind")})
        THEN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER unit_kind_fits_riders BEFORE UPDATE OF kind ON dispatch_unit
    FOR EACH ROW EXECUTE FUNCTION unit_kind_fits_riders()""",
]

DROP_SQLITE = [
    "DROP TRIGGER IF EXISTS person_unit_fits_insert",
    "DROP TRIGGER IF EXISTS person_unit_fits_update",
    "DROP TRIGGER IF EXISTS shift_fits_person",
    "DROP TRIGGER IF EXISTS unit_kind_fits_riders",
]
DROP_POSTGRES = [
    "DROP TRIGGER IF EXISTS person_unit_fits ON accounts_user",
    "DROP FUNCTION IF EXISTS person_unit_fits()",
    "DROP TRIGGER IF EXISTS shift_fits_person ON dispatch_shift",
    "DROP FUNCTION IF EXISTS shift_fits_person()",
    "DROP TRIGGER IF EXISTS unit_kind_fits_riders ON dispatch_unit",
    "DROP FUNCTION IF EXISTS unit_kind_fits_riders()",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


def _clear_misfits(apps, schema_editor):
    """People already set on a unit of another kind lose it (their shifts stay as history)."""
    User = apps.get_model("accounts", "User")
    for person in User.objects.filter(unit__isnull=False).select_related("unit"):
        fits = (person.role, person.unit.kind) in (
            ("care_responder", "care"),
            ("spd_officer", "spd"),
        )
        if not fits:
            User.objects.filter(pk=person.pk).update(unit=None)


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0009_rosters_and_crew_records"),
        ("accounts", "0003_system_clients"),
    ]

    operations = [
        migrations.RunPython(_clear_misfits, migrations.RunPython.noop),
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRES}),
            _run({"sqlite": DROP_SQLITE, "postgresql": DROP_POSTGRES}),
        ),
    ]
