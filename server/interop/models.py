"""What the CAD link keeps: the administrator's mappings, which CAD call each incident is, the
component versions already applied, the raw documents (for audit, under retention), and the
queue of updates to deliver back to the CAD."""

from __future__ import annotations

import uuid

from django.db import models


class CallTypeMapping(models.Model):
    """A CAD's own call-type code, or an APCO common incident type, and the protocol's call type
    it stands for. Edited by an administrator; checked before the CAD's text is taken as is."""

    class Source(models.TextChoices):
        INTERNAL = "internal", "CAD internal code (incidentTypeInternalCode)"
        APCO = "apco", "APCO common incident type (incidentTypeCommonRegistryText)"

    source = models.CharField(max_length=8, choices=Source.choices, default=Source.INTERNAL)
    cad_code = models.CharField(max_length=120)
    call_type = models.ForeignKey("dispatch.CallType", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["source", "cad_code"]
        constraints = [
            models.UniqueConstraint(fields=["source", "cad_code"], name="one_mapping_per_cad_code")
        ]

    def __str__(self) -> str:
        return f"{self.cad_code} → {self.call_type}"


class CautionMapping(models.Model):
    """A CAD caution flag an administrator says answers a screening question yes."""

    caution_text = models.CharField(
        max_length=120, unique=True, help_text="Matched without regard to case."
    )
    question = models.ForeignKey(
        "dispatch.ScreeningQuestion", on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        ordering = ["caution_text"]

    def __str__(self) -> str:
        return f"{self.caution_text} → {self.question.key}"


class CadIncident(models.Model):
    """Which CAD incident an incident of ours is, and who sent it. A CAD's incident id means
    something only to that CAD: every lookup is by (client, key), so one CAD's key never reaches
    another CAD's call."""

    incident = models.OneToOneField(
        "dispatch.Incident", on_delete=models.CASCADE, related_name="cad_link"
    )
    cad_key = models.CharField(max_length=200, help_text="The CAD's incident id.")
    client = models.ForeignKey("accounts.SystemClient", on_delete=models.PROTECT, related_name="+")
    cad_status = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "cad_key"], name="one_link_per_cad_key")
        ]

    def __str__(self) -> str:
        return self.cad_key


class CadComponent(models.Model):
    """The newest version of one EIDO component applied to an incident: older ones are stale."""

    cad_incident = models.ForeignKey(CadIncident, on_delete=models.CASCADE, related_name="parts")
    component_id = models.CharField(max_length=200)
    last_update = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cad_incident", "component_id"], name="one_version_per_component"
            )
        ]

    def __str__(self) -> str:
        return f"{self.component_id} @ {self.last_update.isoformat()}"


class CadDocument(models.Model):
    """A document as the CAD sent it, kept with its incident for audit until `expires_at`."""

    incident = models.ForeignKey(
        "dispatch.Incident", on_delete=models.CASCADE, related_name="cad_documents"
    )
    client = models.ForeignKey("accounts.SystemClient", on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=16)
    document = models.JSONField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.outcome} document for {self.incident_id}"


class CadDelivery(models.Model):
    """One update to POST to the CAD. Its id is the delivery id the CAD deduplicates on; the
    queue lives in the database so a restart loses nothing."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    incident = models.ForeignKey(
        "dispatch.Incident", on_delete=models.CASCADE, related_name="cad_deliveries"
    )
    event_seq = models.BigIntegerField(help_text="The dispatch stream event it reports.")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["event_seq"]
        verbose_name_plural = "CAD deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(delivered_at__isnull=True),
                name="cad_delivery_due",
            )
        ]

    def __str__(self) -> str:
        return f"delivery {self.id}"


class CadOutboxCursor(models.Model):
    """How far the dispatch stream has been turned into deliveries."""

    name = models.CharField(max_length=32, primary_key=True)
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} at {self.last_seq}"


class ReferralTaskOutcome(models.Model):
    """What a receiving organization said through its FHIR Task that the referral's own status
    can't hold: how it ended for them (completed, rejected, cancelled), why, and what came of it.
    The Task's status otherwise follows the referral's."""

    referral = models.OneToOneField(
        "care.Referral", on_delete=models.CASCADE, related_name="fhir_task", primary_key=True
    )
    outcome = models.CharField(max_length=12, blank=True, default="")
    status_reason = models.CharField(max_length=500, blank=True, default="")
    output = models.CharField(max_length=1000, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Task outcome of {self.referral_id}: {self.outcome or 'open'}"
