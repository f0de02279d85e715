"""The lab feeds' staff screens.

Results waiting for a person: the list (any member of staff of the clinic reads it), matching a
group to a patient and dismissing it (whoever may record results: the result entry form's
permissions). Lab connections: a lead's screen of their clinics' connections, tokens, traffic
and retention period. Every record is looked up within the asker's clinics, so another
clinic's answers 404 (patients.access)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from audit.access import record_access
from labfeeds.connections import (
    SENDER_FIELDS,
    connection_create,
    connection_switch,
    connection_update,
    retention_set,
)
from labfeeds.forms import (
    ConnectionForm,
    ConnectionSwitchForm,
    RetentionForm,
    TokenForm,
    TokenRevokeForm,
    WaitingDismissForm,
    WaitingMatchForm,
)
from labfeeds.models import ApiToken, LabConnection, WaitingResult
from labfeeds.selectors import (
    connections_page,
    group_rows,
    match_search,
    match_suggestions,
    waiting_count,
    waiting_groups,
    waiting_rows,
)
from labfeeds.tokens import token_create, token_revoke
from labfeeds.waiting import Handled, waiting_dismiss, waiting_match
from patients.access import StaffAccessMixin, clinics_for, in_scope_or_404
from submissions.views import SubmitOnceMixin

READ_WAITING = ("monitoring.view_labresult",)
# Matching records results, and dismissing decides that a lab's results are not recorded:
# both are for whoever may enter results (the result entry form's permissions).
HANDLE_WAITING = ("monitoring.add_labreport", "monitoring.add_labresult")
LEAD = ("labfeeds.view_labconnection", "labfeeds.change_labconnection")
SEARCH_MAX = 100
# The list shows the oldest this many results (a lab sending every result under a wrong
# number for a day could leave thousands); the count above it is of all of them.
LIST_MAX = 500


def _counted(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _row_for(request, pk: int) -> WaitingResult:
    rows = WaitingResult.objects.filter(clinic__in=clinics_for(request.user)).select_related(
        "clinic", "message__connection"
    )
    return in_scope_or_404(request, rows, pk=pk)


def _group(row: WaitingResult):
    groups = waiting_groups(group_rows(row))
    return groups[0]


def _still_waiting(group) -> int:
    return sum(1 for row in group.rows if row.state == WaitingResult.State.WAITING)


def _tell(request, handled: Handled, done: str) -> None:
    if handled.done:
        messages.success(request, done)
    if handled.already_handled:
        messages.info(
            request,
            _counted(handled.already_handled, "of them was", "of them were")
            + " already matched or dismissed by someone else; they were left as they were.",
        )
    elif not handled.done:
        messages.info(request, "Nothing was waiting any more; nothing was changed.")
    if handled.still_waiting:
        messages.warning(
            request,
            f"{_counted(handled.still_waiting, 'result still waits', 'results still wait')}: "
            "a test the clinic does not monitor, or one the lab withdrew. Dismiss it with a "
            "reason when you have checked it.",
        )


class WaitingListView(StaffAccessMixin, View):
    permission_required = READ_WAITING

    def get(self, request):
        clinics = clinics_for(request.user)
        groups = waiting_groups(waiting_rows(clinics)[:LIST_MAX])
        shown = sum(len(group.rows) for group in groups)
        context = {
            "groups": groups,
            "shown": shown,
            "count": shown if shown < LIST_MAX else waiting_count(clinics),
            "may_handle": request.user.has_perms(HANDLE_WAITING),
        }
        return render(request, "labfeeds/waiting_list.html", context)


class WaitingMatchView(StaffAccessMixin, SubmitOnceMixin, View):
    """Choose a patient of the clinic (suggested, or found by name or hospital number), see
    them, confirm: the group's results are recorded for them."""

    permission_required = HANDLE_WAITING
    template = "labfeeds/waiting_match.html"

    def _render(self, request, row, form, patient=None):
        group = _group(row)
        query = request.GET.get("q", "").strip()[:SEARCH_MAX]
        context = {
            "group": group,
            "waiting": _still_waiting(group),
            "matchable": [r for r in group.matchable if r.state == WaitingResult.State.WAITING],
            "suggestions": match_suggestions(group),
            "query": query,
            "found": match_search(group, query),
            "chosen": patient,
            "form": form,
        }
        return render(request, self.template, context)

    def get(self, request, pk):
        row = _row_for(request, pk)
        patient = None
        chosen = request.GET.get("patient", "")
        form = WaitingMatchForm(clinic=row.clinic)
        if chosen.isdigit():
            patient = form.fields["patient"].queryset.filter(pk=int(chosen)).first()
        if patient is not None:
            record_access(request, patient, "lab results waiting to be matched")
            form = WaitingMatchForm(clinic=row.clinic, initial={"patient": patient.pk})
        return self._render(request, row, form, patient)

    def post(self, request, pk):
        row = _row_for(request, pk)
        form = WaitingMatchForm(request.POST, clinic=row.clinic)

        def save(data) -> str:
            patient = data["patient"]
            handled = waiting_match(
                row=row, patient=patient, matched_by=request.user, now=timezone.now()
            )
            _tell(
                request,
                handled,
                f"{_counted(handled.done, 'result', 'results')} recorded for {patient}.",
            )
            return reverse("labfeeds:waiting")

        def invalid(form):
            patient = form.cleaned_data.get("patient") if hasattr(form, "cleaned_data") else None
            return self._render(request, row, form, patient)

        return self.post_once(request, form, save=save, invalid=invalid)


class WaitingDismissView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = HANDLE_WAITING
    template = "labfeeds/waiting_dismiss.html"

    def _render(self, request, row, form):
        group = _group(row)
        context = {"group": group, "form": form, "waiting": _still_waiting(group)}
        return render(request, self.template, context)

    def get(self, request, pk):
        row = _row_for(request, pk)
        return self._render(request, row, WaitingDismissForm())

    def post(self, request, pk):
        row = _row_for(request, pk)

        def save(data) -> str:
            handled = waiting_dismiss(
                row=row, reason=data["reason"], dismissed_by=request.user, now=timezone.now()
            )
            _tell(request, handled, f"{_counted(handled.done, 'result', 'results')} dismissed.")
            return reverse("labfeeds:waiting")

        return self.post_once(
            request,
            WaitingDismissForm(request.POST),
            save=save,
            invalid=lambda form: self._render(request, row, form),
        )


# Lab connections: a lead's.


def _connection_for(request, pk: int) -> LabConnection:
    connections = LabConnection.objects.filter(clinic__in=clinics_for(request.user)).select_related(
        "clinic"
    )
    return in_scope_or_404(request, connections, pk=pk)


def _token_for(request, pk: int) -> ApiToken:
    tokens = ApiToken.objects.filter(clinic__in=clinics_for(request.user)).select_related(
        "clinic", "connection", "created_by", "revoked_by"
    )
    return in_scope_or_404(request, tokens, pk=pk)


def _back() -> str:
    return reverse("labfeeds:connections")


class ConnectionsView(StaffAccessMixin, View):
    permission_required = LEAD

    def get(self, request):
        page = connections_page(clinics_for(request.user), now=timezone.now())
        return render(request, "labfeeds/connections.html", {"page": page})


class ConnectionCreateView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = (*LEAD, "labfeeds.add_labconnection")
    template = "labfeeds/connection_form.html"

    def _form(self, request):
        return ConnectionForm(request.POST or None, clinics=clinics_for(request.user))

    def get(self, request):
        return render(request, self.template, {"form": self._form(request)})

    def post(self, request):
        form = self._form(request)

        def save(data) -> str:
            connection = connection_create(
                clinic=data["clinic"],
                name=data["name"],
                hl7_sending_application=data["hl7_sending_application"],
                hl7_sending_facility=data["hl7_sending_facility"],
                assigning_authority=data["assigning_authority"],
                created_by=request.user,
            )
            messages.success(request, f"Lab connection “{connection}” made.")
            return _back()

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: render(request, self.template, {"form": form}),
        )


class ConnectionEditView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = LEAD
    template = "labfeeds/connection_form.html"

    def _render(self, request, connection, form):
        context = {"form": form, "connection": connection}
        return render(request, self.template, context)

    def get(self, request, pk):
        connection = _connection_for(request, pk)
        form = ConnectionForm(connection=connection, clinics=clinics_for(request.user))
        return self._render(request, connection, form)

    def post(self, request, pk):
        connection = _connection_for(request, pk)
        form = ConnectionForm(
            request.POST, connection=connection, clinics=clinics_for(request.user)
        )

        def save(data) -> str:
            changed = {name: data[name] for name in form.changed_data if name in SENDER_FIELDS}
            if changed:
                connection_update(connection=connection, **changed)
                messages.success(request, f"Lab connection “{data['name']}” saved.")
            else:
                messages.info(request, "Nothing was changed.")
            return _back()

        def invalid(form):
            connection.refresh_from_db()
            return self._render(request, connection, form)

        return self.post_once(request, form, save=save, invalid=invalid)


class ConnectionSwitchView(StaffAccessMixin, SubmitOnceMixin, View):
    """Switch a connection off (its messages and tokens refused) or back on, after a confirm
    page that says what it does."""

    permission_required = LEAD
    template = "labfeeds/connection_switch.html"

    def _render(self, request, connection, form):
        return render(request, self.template, {"connection": connection, "form": form})

    def get(self, request, pk):
        connection = _connection_for(request, pk)
        form = ConnectionSwitchForm(initial={"active": not connection.is_active})
        return self._render(request, connection, form)

    def post(self, request, pk):
        connection = _connection_for(request, pk)

        def save(data) -> str:
            switched = connection_switch(connection=connection, active=data["active"])
            state = "on" if switched.is_active else "off"
            messages.success(request, f"Lab connection “{switched}” is {state}.")
            return _back()

        return self.post_once(
            request,
            ConnectionSwitchForm(request.POST),
            save=save,
            invalid=lambda form: self._render(request, connection, form),
        )


def _secret_key(token_pk: int) -> str:
    return f"labfeeds.new_token.{token_pk}"


class TokenCreateView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = (*LEAD, "labfeeds.add_apitoken")
    template = "labfeeds/token_form.html"

    def _form(self, request, data=None):
        initial = {}
        connection = request.GET.get("connection", "")
        if connection.isdigit():
            initial["connection"] = int(connection)
        return TokenForm(data, clinics=clinics_for(request.user), initial=initial)

    def get(self, request):
        return render(request, self.template, {"form": self._form(request)})

    def post(self, request):
        form = self._form(request, request.POST)

        def save(data) -> str:
            connection = data["connection"]
            new = token_create(
                clinic=data["clinic"],
                name=data["name"],
                scope=data["scope"],
                created_by=request.user,
                connection=connection,
            )
            # Shown once, on the next page, which takes it out of the session as it shows it.
            request.session[_secret_key(new.token.pk)] = new.secret
            return reverse("labfeeds:token_created", args=[new.token.pk])

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: render(request, self.template, {"form": form}),
        )


class TokenCreatedView(StaffAccessMixin, View):
    """The new token's secret, once: it is taken out of the session as the page is made, so a
    reload (or anyone later) sees only its prefix."""

    permission_required = (*LEAD, "labfeeds.add_apitoken")

    def get(self, request, pk):
        token = _token_for(request, pk)
        secret = request.session.pop(_secret_key(token.pk), None)
        response = render(
            request, "labfeeds/token_created.html", {"token": token, "secret": secret}
        )
        response["Cache-Control"] = "no-store"
        return response


class TokenRevokeView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = (*LEAD, "labfeeds.change_apitoken")
    template = "labfeeds/token_revoke.html"

    def _render(self, request, token, form):
        return render(request, self.template, {"token": token, "form": form})

    def get(self, request, pk):
        return self._render(request, _token_for(request, pk), TokenRevokeForm())

    def post(self, request, pk):
        token = _token_for(request, pk)

        def save(data) -> str:
            was_revoked = token.is_revoked
            token_revoke(token=token, revoked_by=request.user)
            if was_revoked:
                messages.info(request, f"The token {token} was already revoked.")
            else:
                messages.success(request, f"The token {token} is revoked: it is refused from now.")
            return _back()

        return self.post_once(
            request,
            TokenRevokeForm(request.POST),
            save=save,
            invalid=lambda form: self._render(request, token, form),
        )


class RetentionView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = (*LEAD, "patients.change_clinic")
    template = "labfeeds/retention.html"

    def _clinic(self, request, pk):
        return in_scope_or_404(request, clinics_for(request.user), pk=pk)

    def _render(self, request, clinic, form):
        return render(request, self.template, {"clinic": clinic, "form": form})

    def get(self, request, pk):
        clinic = self._clinic(request, pk)
        return self._render(request, clinic, RetentionForm(instance=clinic))

    def post(self, request, pk):
        clinic = self._clinic(request, pk)
        form = RetentionForm(request.POST, instance=clinic)

        def save(data) -> str:
            days = data["lab_message_retention_days"]
            retention_set(clinic=clinic, days=days)
            messages.success(request, f"{clinic}: lab messages are kept {days} days.")
            return _back()

        def invalid(form):
            clinic.refresh_from_db()
            return self._render(request, clinic, form)

        return self.post_once(request, form, save=save, invalid=invalid)
