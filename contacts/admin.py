"""The staff back office for contacts, lists, custom fields and tags (django-unfold).

Every change goes through contacts.services; this module only renders forms,
asks questions (which list? which tags?) and reports outcomes in words.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import Count, Prefetch, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import DropdownFilter, TextFilter
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminTextareaWidget

from automations.timeline import ContactTimelineMixin

from . import services
from .forms import (
    AddMembersForm,
    ChooseListForm,
    ContactAdminForm,
    ExistingListForm,
    OptOutForm,
    TagForm,
    custom_form_field,
)
from .imports.admin import export_contacts_action  # also registers the import/export admins
from .models import Contact, ContactList, CustomField, Membership, Tag
from .pagination import EstimatedCountPaginator
from .phones import PhoneError, normalize_phone

# --- filters ------------------------------------------------------------------------------------


class ListFilter(DropdownFilter):
    title = _("list")
    parameter_name = "list"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in ContactList.objects.values_list("pk", "name")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(memberships__contact_list_id=self.value())
        return queryset


class TagFilter(DropdownFilter):
    title = _("tag")
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in Tag.objects.values_list("pk", "name")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(tags__id=self.value())
        return queryset


class StatusFilter(DropdownFilter):
    """Live contacts by default; 'Deleted' shows the bin, where contacts can be restored."""

    title = _("status")
    parameter_name = "status"
    all_option = None

    def lookups(self, request, model_admin):
        return [
            ("live", _("All live contacts")), ("active", _("Can be messaged")), ("opted_out", _("Opted out")),
            ("blocked", _("Blocked")), ("deleted", _("Deleted (can be restored)")),
        ]  # fmt: skip

    def value(self):
        return super().value() or "live"

    def queryset(self, request, queryset):
        value = self.value()
        if value == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        queryset = queryset.filter(deleted_at__isnull=True)
        if value == "active":
            return queryset.filter(opted_out=False, blocked=False)
        if value == "opted_out":
            return queryset.filter(opted_out=True)
        if value == "blocked":
            return queryset.filter(blocked=True)
        return queryset


# PostgreSQL: a "loose index scan" — one probe of contact_language_idx per distinct language — instead
# of DISTINCT over the whole book (a parallel sequential scan: 290 ms at 1 M contacts, paid by the
# first page after each cache expiry). Each probe skips deleted contacts as the live manager does.
_LANGUAGES_SQL = """
WITH RECURSIVE langs(code, n) AS (
    SELECT (SELECT language FROM contacts_contact WHERE language > '' AND deleted_at IS NULL
            ORDER BY language LIMIT 1), 1
    UNION ALL
    SELECT (SELECT language FROM contacts_contact WHERE language > langs.code AND deleted_at IS NULL
            ORDER BY language LIMIT 1), n + 1
    FROM langs WHERE langs.code IS NOT NULL AND n < %s
)
SELECT code FROM langs WHERE code IS NOT NULL
"""


def _distinct_languages(limit: int = 100) -> list[str]:
    """The languages live contacts have, sorted, at most `limit`."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_LANGUAGES_SQL, [limit])
            return [row[0] for row in cursor.fetchall()]
    return sorted(
        Contact.objects.exclude(language="").order_by("language").values_list("language", flat=True).distinct()[:limit]
    )


class LanguageFilter(DropdownFilter):
    title = _("language")
    parameter_name = "language"

    def lookups(self, request, model_admin):
        # DISTINCT over a million rows costs more than the page: remember it for a few minutes.
        languages = cache.get("contacts:languages")
        if languages is None:
            languages = _distinct_languages()
            cache.set("contacts:languages", languages, 300)
        return [(code, code) for code in languages]

    def queryset(self, request, queryset):
        return queryset.filter(language=self.value()) if self.value() else queryset


class CustomFieldFilter(TextFilter):
    """Filter on a custom field value typed as key:value, e.g. tier:gold or vip:yes."""

    title = _("custom field (key:value)")
    parameter_name = "field"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        try:
            return services.filter_by_custom_field(queryset, value)
        except ValidationError as exc:
            messages.warning(request, exc.messages[0])
            return queryset.none()


# --- contacts ------------------------------------------------------------------------------------


@admin.register(Contact)
class ContactAdmin(ContactTimelineMixin, ModelAdmin):
    form = ContactAdminForm
    list_display = [
        "name_column",
        "phone",
        "email",
        "lists_column",
        "tags_column",
        "status_column",
        "updated_at",
    ]
    list_display_links = ["name_column", "phone"]
    list_filter = [StatusFilter, ListFilter, TagFilter, LanguageFilter, CustomFieldFilter]
    list_filter_submit = True
    search_fields = ["phone"]  # the real search is services.search_contacts (see get_search_results)
    search_help_text = _("Name, email or phone in any format (e.g. 333 123 or +39 333).")
    list_per_page = 50
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    filter_horizontal = ["tags"]
    actions = [
        "add_to_list", "remove_from_list", "tag", "opt_out", export_contacts_action, "delete_contacts", "restore",
    ]  # fmt: skip
    actions_list = ["import_contacts", "export_all"]
    readonly_fields = ["opted_out_at", "created_at", "updated_at", "other_phones", "timeline"]
    fieldsets = [
        (None, {"fields": ["phone", ("first_name", "last_name"), "email", "other_phones"]}),
        (_("Details"), {"fields": [("language", "gender"), "birth_date", "company", "notes"]}),
        (
            _("Address"),
            {"fields": ["address", ("city", "province"), ("postal_code", "country")], "classes": ["tab"]},
        ),
        (_("Lists and tags"), {"fields": ["member_of", "tags"]}),
        (
            _("Status"),
            {
                "fields": [
                    ("opted_out", "opted_out_at"),
                    "opted_out_reason",
                    "blocked",
                    ("created_at", "updated_at"),
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        # all_objects: the Deleted filter must see the bin; StatusFilter hides it by default.
        return Contact.all_objects.prefetch_related(
            "tags", Prefetch("memberships", queryset=Membership.objects.select_related("contact_list"))
        )

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        custom = [f"cf_{key}" for key in CustomField.objects.values_list("key", flat=True)]
        if custom:
            fieldsets.insert(2, (_("Custom fields"), {"fields": custom}))
        if obj is not None:  # messages, automation runs, imports: one timeline (automations/timeline.py)
            fieldsets.append((_("Timeline"), {"fields": ["timeline"]}))
        return fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        # Custom fields are defined by staff at run time: declare one form field per definition.
        declared = {f"cf_{d.key}": custom_form_field(d) for d in CustomField.objects.all()}
        kwargs["form"] = type("ContactForm", (self.form,), declared)
        return super().get_form(request, obj, change, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        # Joins from list/tag filters can repeat a row; search itself never does.
        return services.search_contacts(queryset, search_term), False

    # columns

    @display(description=_("Name"), ordering="last_name")
    def name_column(self, obj):
        name = f"{obj.first_name} {obj.last_name}".strip()
        return name or "—"

    @display(description=_("Other numbers"))
    def other_phones(self, obj):
        return ", ".join(obj.secondary_phones or []) or "—"

    @display(description=_("Lists"))
    def lists_column(self, obj):
        return ", ".join(m.contact_list.name for m in obj.memberships.all()) or "—"

    @display(description=_("Tags"))
    def tags_column(self, obj):
        return ", ".join(t.name for t in obj.tags.all()) or "—"

    @display(
        description=_("Status"),
        label={"active": "success", "opted_out": "warning", "blocked": "danger", "deleted": "info"},
    )
    def status_column(self, obj):
        if obj.deleted_at:
            return "deleted", pgettext("contact status", "Deleted")
        if obj.blocked:
            return "blocked", pgettext("contact status", "Blocked")
        if obj.opted_out:
            return "opted_out", pgettext("contact status", "Opted out")
        return "active", pgettext("contact status", "Active")

    # saving through the service

    def save_model(self, request, obj, form, change):
        data = form.service_data()
        if change:
            services.update_contact(Contact.all_objects.get(pk=obj.pk), data)
        else:
            created = services.create_contact(data)
            # The admin goes on with `obj` (history entry, redirect): give it the new row's identity.
            obj.pk, obj.created_at, obj._state.adding = created.pk, created.created_at, False

    def save_related(self, request, form, formsets, change):
        # Lists and tags were written by the service with everything else, in one transaction.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj):
        services.delete_contacts(Contact.all_objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        services.delete_contacts(queryset)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # our delete is a soft delete
        return actions

    # buttons above the list

    @action(description=_("Import contacts"), icon="upload_file", url_path="import-file", permissions=["add"])
    def import_contacts(self, request):
        return HttpResponseRedirect(reverse("admin:contacts_contactimport_upload"))

    @action(description=_("Export all"), icon="download", url_path="export-all", permissions=["export"])
    def export_all(self, request):
        return HttpResponseRedirect(reverse("admin:contacts_contactexport_start"))

    def has_export_permission(self, request, obj=None):
        return request.user.has_perm("contacts.export_contact")

    # bulk actions

    def _ask(self, request, queryset, form, title, action_name, button):
        return TemplateResponse(
            request,
            "admin/contacts/action_form.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "form": form,
                "queryset": queryset,
                "count": queryset.count(),
                "action_name": action_name,
                "button": button,
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across", "0"),
            },
        )

    @action(description=_("Add to list…"), permissions=["change"])
    def add_to_list(self, request, queryset):
        form = ChooseListForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                contact_list = form.get_list(user=request.user)
            except ValidationError as exc:
                form.add_error("new_list", exc.messages[0])
            else:
                added = services.add_to_list(contact_list, queryset)
                self.message_user(
                    request,
                    ngettext(
                        "Added %(count)d contact to “%(list)s” (%(already)d were already there).",
                        "Added %(count)d contacts to “%(list)s” (%(already)d were already there).",
                        added,
                    )
                    % {"count": added, "list": contact_list.name, "already": queryset.count() - added},
                    messages.SUCCESS,
                )
                return None
        return self._ask(
            request, queryset, form, gettext("Add contacts to a list"), "add_to_list", gettext("Add to list")
        )

    @action(description=_("Remove from list…"), permissions=["change"])
    def remove_from_list(self, request, queryset):
        form = ExistingListForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            contact_list = form.cleaned_data["contact_list"]
            removed = services.remove_from_list(contact_list, queryset)
            self.message_user(
                request,
                ngettext(
                    "Removed %(count)d contact from “%(list)s”.", "Removed %(count)d contacts from “%(list)s”.", removed
                )
                % {"count": removed, "list": contact_list.name},
                messages.SUCCESS,
            )
            return None
        return self._ask(
            request, queryset, form, gettext("Remove contacts from a list"), "remove_from_list", gettext("Remove")
        )

    @action(description=_("Tag…"), permissions=["change"])
    def tag(self, request, queryset):
        form = TagForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            count = services.tag_contacts(queryset, form.tag_names())
            self.message_user(
                request,
                ngettext("Tagged %(count)d contact with %(tags)s.", "Tagged %(count)d contacts with %(tags)s.", count)
                % {"count": count, "tags": ", ".join(form.tag_names())},
                messages.SUCCESS,
            )
            return None
        return self._ask(request, queryset, form, gettext("Tag contacts"), "tag", gettext("Apply tags"))

    @action(description=_("Opt out…"), permissions=["change"])
    def opt_out(self, request, queryset):
        form = OptOutForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            count = services.opt_out_contacts(queryset, form.cleaned_data["reason"])
            self.message_user(
                request,
                ngettext(
                    "%(count)d contact opted out; they will not be messaged.",
                    "%(count)d contacts opted out; they will not be messaged.",
                    count,
                )
                % {"count": count},
                messages.SUCCESS,
            )
            return None
        return self._ask(request, queryset, form, gettext("Opt contacts out"), "opt_out", gettext("Opt out"))

    @action(description=_("Delete (can be restored)"), permissions=["delete"])
    def delete_contacts(self, request, queryset):
        count = services.delete_contacts(queryset)
        self.message_user(
            request,
            ngettext(
                "Deleted %(count)d contact. Find it under Status → Deleted to restore it.",
                "Deleted %(count)d contacts. Find them under Status → Deleted to restore them.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    @action(description=_("Restore deleted"), permissions=["delete"])
    def restore(self, request, queryset):
        restored, problems = services.restore_contacts(queryset)
        self.message_user(
            request,
            ngettext("Restored %(count)d contact.", "Restored %(count)d contacts.", restored) % {"count": restored},
            messages.SUCCESS,
        )
        for problem in problems:
            self.message_user(request, problem, messages.WARNING)


# --- lists ---------------------------------------------------------------------------------------


@admin.register(ContactList)
class ContactListAdmin(ModelAdmin):
    list_display = ["name", "description", "members_column", "created_at"]
    search_fields = ["name", "description"]
    readonly_fields = ["created_at", "updated_at", "created_by"]
    fields = ["name", "description", "created_by", "created_at", "updated_at"]
    change_form_after_template = "admin/contacts/contactlist/members_link.html"
    actions_detail = ["open_members", "export_list"]

    @action(description=_("Members"), icon="group", url_path="members-of", permissions=["view"])
    def open_members(self, request, object_id):
        return HttpResponseRedirect(reverse("admin:contacts_contactlist_members", args=[object_id]))

    @action(description=_("Export"), icon="download", url_path="export-list", permissions=["export"])
    def export_list(self, request, object_id):
        return HttpResponseRedirect(reverse("admin:contacts_contactexport_start") + f"?list_id={object_id}")

    def has_export_permission(self, request, obj=None):
        return request.user.has_perm("contacts.export_contact")

    def get_deleted_objects(self, objs, request):
        """Lists a switched-on automation uses are protected: the page names it and refuses (issue 12)."""
        from .usage import blocking_list_uses

        deleted, counts, perms, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, perms, [*protected, *blocking_list_uses(objs)]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                member_count=Count("memberships", filter=Q(memberships__contact__deleted_at__isnull=True))
            )
        )

    @display(description=_("Members"), ordering="member_count")
    def members_column(self, obj):
        url = reverse("admin:contacts_contactlist_members", args=[obj.pk])
        return format_html(
            '<a class="text-primary-600 underline" href="{}">{}</a>',
            url,
            ngettext("%(count)d member", "%(count)d members", obj.member_count) % {"count": obj.member_count},
        )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self):
        return [
            path(
                "<int:pk>/members/",
                self.admin_site.admin_view(self.members_view),
                name="contacts_contactlist_members",
            ),
            *super().get_urls(),
        ]

    def members_view(self, request, pk):
        """The list's members: paginated, searchable; add by phone, remove the ticked ones."""
        contact_list = get_object_or_404(ContactList, pk=pk)
        if not self.has_view_permission(request, contact_list):
            raise PermissionDenied
        can_change = self.has_change_permission(request, contact_list)
        add_form = AddMembersForm()
        if request.method == "POST":
            if not can_change:
                raise PermissionDenied
            if "remove" in request.POST:
                ids = [int(i) for i in request.POST.getlist("contact") if i.isdigit()]
                removed = services.remove_from_list(contact_list, ids)
                messages.success(
                    request,
                    ngettext(
                        "Removed %(count)d contact from “%(list)s”.", "Removed %(count)d contacts from “%(list)s”.", removed
                    )
                    % {"count": removed, "list": contact_list.name},
                )
                return HttpResponseRedirect(request.get_full_path())
            add_form = AddMembersForm(request.POST)
            if add_form.is_valid():
                found, unknown, invalid = self._contacts_for_phones(add_form.cleaned_data["phones"])
                added = services.add_to_list(contact_list, found) if found else 0
                messages.success(
                    request,
                    ngettext("Added %(count)d contact to “%(list)s”.", "Added %(count)d contacts to “%(list)s”.", added)
                    % {"count": added, "list": contact_list.name},
                )
                if unknown:
                    messages.warning(
                        request, gettext("Not contacts yet (add them first): %(phones)s") % {"phones": ", ".join(unknown[:20])}
                    )
                if invalid:
                    messages.error(request, gettext("Not valid numbers: %(phones)s") % {"phones": "; ".join(invalid[:20])})
                return HttpResponseRedirect(request.get_full_path())
        term = request.GET.get("q", "")
        members = services.search_contacts(
            Contact.objects.filter(memberships__contact_list=contact_list), term
        ).order_by("last_name", "first_name", "id")
        paginator = EstimatedCountPaginator(members, 50)
        page = paginator.get_page(request.GET.get("page"))
        return TemplateResponse(
            request,
            "admin/contacts/contactlist/members.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Members of “%(list)s”") % {"list": contact_list.name},
                "contact_list": contact_list,
                "page": page,
                "q": term,
                "add_form": add_form,
                "can_change": can_change,
                "opts": self.model._meta,
                "original": contact_list,
            },
        )

    @staticmethod
    def _contacts_for_phones(text: str):
        found, unknown, invalid = [], [], []
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                phone = normalize_phone(line)
            except PhoneError as exc:
                invalid.append(f"{line} ({exc})")
                continue
            pk = Contact.objects.filter(phone=phone).values_list("pk", flat=True).first()
            (found.append(pk) if pk else unknown.append(phone))
        return found, unknown, invalid


# --- custom fields and tags ----------------------------------------------------------------------


class CustomFieldAdminForm(forms.ModelForm):
    """Choices one per line (not JSON); the service checks the key, the label and the choices."""

    choices_text = forms.CharField(
        label="Choices", required=False, widget=UnfoldAdminTextareaWidget,
        help_text="For 'Choice' fields: the allowed values, one per line.",
    )  # fmt: skip

    class Meta:
        model = CustomField
        fields = ["label", "key", "type"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["choices_text"].initial = "\n".join(self.instance.choice_list)
        if "key" in self.fields:
            self.fields["key"].required = False

    def clean(self):
        data = super().clean()
        lines = [line.strip() for line in (data.get("choices_text") or "").splitlines() if line.strip()]
        try:
            if self.instance.pk:
                data["choices"] = services.clean_choices(lines)
                if self.instance.type == CustomField.Type.CHOICE and not data["choices"]:
                    raise ValidationError({"choices": "A choice field needs at least one choice."})
            else:
                _label, data["key"], data["choices"] = services.check_new_custom_field(
                    label=data.get("label", ""), key=data.get("key") or "", type=data.get("type") or "text",
                    choices=lines,
                )  # fmt: skip
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error({"choices": "choices_text"}.get(field, field if field in self.fields else None),
                               errors)  # fmt: skip
        return data

    def _post_clean(self):
        pass  # the service validates and saves (save_model); the model's own checks would run twice


@admin.register(CustomField)
class CustomFieldAdmin(ModelAdmin):
    form = CustomFieldAdminForm
    list_display = ["label", "key", "type", "choices_column", "created_at"]
    search_fields = ["label", "key"]
    list_filter = ["type"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                saved = services.update_custom_field(obj, label=data["label"], choices=data.get("choices", []))
            else:
                saved = services.create_custom_field(
                    label=data["label"], key=data.get("key") or "", type=data["type"],
                    choices=data.get("choices", []),
                )  # fmt: skip
        except ValidationError as exc:  # the form checked all of this; only a race gets here
            messages.error(request, "; ".join(exc.messages))
            raise
        obj.pk = saved.pk
        obj.refresh_from_db()

    @display(description=_("Choices"))
    def choices_column(self, obj):
        return ", ".join(obj.choice_list) or "—"

    def get_readonly_fields(self, request, obj=None):
        # Changing a key or type would orphan stored values.
        return ["key", "type"] if obj else []


@admin.register(Tag)
class TagAdmin(ModelAdmin):
    list_display = ["name", "contacts_column", "created_at"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(contact_count=Count("contacts"))

    @display(description=_("Contacts"), ordering="contact_count")
    def contacts_column(self, obj):
        url = reverse("admin:contacts_contact_changelist") + f"?tag={obj.pk}"
        return format_html('<a class="underline" href="{}">{}</a>', url, obj.contact_count)
