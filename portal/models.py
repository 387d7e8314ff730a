"""People: the e-mail-login user, their profile, departments and specialties.

Also the portal's notification model (swapped in for django-notifications'
own) and each person's notification preferences. This module imports no app.
"""

import functools

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import connection, models
from django.db.models.functions import Lower
from django.utils.functional import cached_property
from notifications.base.models import AbstractNotification

from portal.roles import PATIENT_DATA_ROLES, Role


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A member of hospital staff, signing in with their hospital e-mail address."""

    username = None
    email = models.EmailField("e-mail address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["last_name", "first_name", "email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="unique_user_email_case_insensitive"),
        ]

    def __str__(self):
        return self.get_full_name() or self.email

    @cached_property
    def _standing(self) -> tuple[frozenset[str], frozenset[int]]:
        """Role names and credentialed specialty ids in one query, once per request.

        Every referral screen needs both to decide who may do what. The SQL is
        written out (``_standing_sql``) because this runs on nearly every
        request, and building it through the ORM cost more than executing it.
        """
        with connection.cursor() as cursor:
            cursor.execute(_standing_sql(), [self.pk, self.pk])
            rows = cursor.fetchall()
        roles = frozenset(name for name, _ in rows if name is not None)
        specialties = frozenset(int(sid) for _, sid in rows if sid is not None)
        return roles, specialties

    def forget_standing(self) -> None:
        """Drop the cached roles and specialties after they changed."""
        self.__dict__.pop("_standing", None)

    @property
    def role_names(self) -> frozenset[str]:
        """The names of this person's roles."""
        return self._standing[0]

    def has_role(self, role: Role) -> bool:
        return self.is_superuser or role in self.role_names

    @property
    def review_specialty_ids(self) -> frozenset[int]:
        """Specialties this person may review in (empty unless they hold the Reviewer role)."""
        roles, specialties = self._standing
        if not (self.is_superuser or Role.REVIEWER in roles):
            return frozenset()
        return specialties

    @property
    def can_see_patient_data(self) -> bool:
        return self.is_superuser or bool(self.role_names & PATIENT_DATA_ROLES)


class Department(models.Model):
    """A hospital department; referral credit and participation roll up to it."""

    name = models.CharField(max_length=120, unique=True)
    code = models.SlugField(max_length=40, unique=True, help_text="Short code used in reports, e.g. 'onc'.")
    headcount = models.PositiveIntegerField(
        default=0, help_text="Staff in the department, for referrals per 100 staff."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Specialty(models.Model):
    """A clinical specialty that gives second opinions and has its own review queue."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    is_active = models.BooleanField(default=True, help_text="Accepting second opinion referrals.")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "specialties"

    def __str__(self):
        return self.name


class Profile(models.Model):
    """Work details of a person: department, job role, the specialties they review."""

    class JobRole(models.TextChoices):
        PHYSICIAN = "physician", "Physician"
        NURSE = "nurse", "Nurse"
        ADVANCED_PRACTICE = "advanced_practice", "Nurse practitioner / physician assistant"
        COORDINATOR = "coordinator", "Coordinator"
        ADMINISTRATION = "administration", "Administration"
        OTHER = "other", "Other"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, null=True, blank=True, related_name="members")
    job_role = models.CharField(max_length=30, choices=JobRole, default=JobRole.OTHER)
    title = models.CharField(max_length=120, blank=True, help_text="e.g. 'Attending, Medical Oncology'.")
    review_specialties = models.ManyToManyField(
        Specialty,
        blank=True,
        related_name="reviewers",
        help_text="Specialties this physician is credentialed to review.",
    )
    hide_from_leaderboards = models.BooleanField(
        default=False, help_text="Leave my name off public leaderboards (I still count for my department)."
    )

    def __str__(self):
        return f"Profile of {self.user}"


class Notification(AbstractNotification):
    """An in-app notification; django-notifications' model with a kind and an event key.

    ``event_key`` names the event that caused it (e.g. ``referral:42:claimed``);
    one notification per recipient and event makes a retried task harmless.
    """

    class EmailDelivery(models.TextChoices):
        NONE = "none", "No e-mail"
        IMMEDIATE = "immediate", "Immediately"
        DIGEST = "digest", "Daily digest"

    kind = models.CharField(max_length=40, db_index=True)
    event_key = models.CharField(max_length=120)
    link = models.CharField(max_length=300, blank=True, help_text="Portal path the notification opens.")
    email_delivery = models.CharField(max_length=10, choices=EmailDelivery, default=EmailDelivery.NONE)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractNotification.Meta):
        abstract = False
        constraints = [
            models.UniqueConstraint(fields=["recipient", "event_key"], name="one_notification_per_recipient_event"),
        ]
        indexes = [
            *AbstractNotification.Meta.indexes,
            models.Index(fields=["email_delivery", "emailed"], name="notification_email_pending"),
        ]


class NotificationPreference(models.Model):
    """How one person wants one kind of notification e-mailed to them."""

    class Delivery(models.TextChoices):
        IMMEDIATE = "immediate", "Immediately"
        DIGEST = "digest", "Daily digest"
        OFF = "off", "Off"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=40)
    delivery = models.CharField(max_length=10, choices=Delivery, default=Delivery.IMMEDIATE)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="one_preference_per_user_kind"),
        ]

    def __str__(self):
        return f"{self.user}: {self.kind} → {self.delivery}"


@functools.cache
def _standing_sql() -> str:
    """A person's role names, then their review specialties: (name, NULL) and (NULL, specialty id) rows."""
    from django.contrib.auth.models import Group

    quote = connection.ops.quote_name

    def column(meta, field: str) -> str:
        return quote(meta.get_field(field).column)

    # Table and column names come from the models; the two ids are parameters.
    group, membership = Group._meta, User.groups.through._meta
    profile, credential = Profile._meta, Profile.review_specialties.through._meta
    roles = (
        f"SELECT g.{column(group, 'name')}, NULL FROM {quote(membership.db_table)} m"  # noqa: S608
        f" JOIN {quote(group.db_table)} g ON g.{column(group, 'id')} = m.{column(membership, 'group')}"
        f" WHERE m.{column(membership, 'user')} = %s"
    )
    specialties = (
        f"SELECT NULL, c.{column(credential, 'specialty')} FROM {quote(credential.db_table)} c"  # noqa: S608
        f" JOIN {quote(profile.db_table)} p ON p.{column(profile, 'id')} = c.{column(credential, 'profile')}"
        f" WHERE p.{column(profile, 'user')} = %s"
    )
    return f"{roles} UNION ALL {specialties}"
