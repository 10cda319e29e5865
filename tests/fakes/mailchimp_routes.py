"""The endpoints of the fake Mailchimp (state and switches live in mailchimp.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, Response, jsonify, request

from .mailchimp import MAX_BATCH, Problem, now_text, page, subscriber_hash

if TYPE_CHECKING:
    from .mailchimp import FakeMailchimp

MEMBER_STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived"}


def register(app: Flask, fake: "FakeMailchimp") -> None:
    bp = "/3.0"

    @app.get(f"{bp}/ping")
    def ping():
        return jsonify({"health_status": "Everything's Chimpy!"})

    # --- members ------------------------------------------------------------------------------

    @app.get(f"{bp}/lists/<list_id>/members")
    def list_members(list_id):
        since = request.args.get("since_last_changed")
        status = request.args.get("status")
        with fake.lock:
            fake_list = fake._list(list_id)
            members = [m for m in fake_list.members.values()
                       if (since is None or m["last_changed"] > _norm(since)) and (status is None or m["status"] == status)]
            out = [fake._member_out(fake_list, m) for m in members]
        return page(out, "members", list_id=list_id)

    @app.post(f"{bp}/lists/<list_id>/members")
    def add_member(list_id):
        body = request.get_json() or {}
        email = body.get("email_address") or ""
        with fake.lock:
            fake_list = fake._list(list_id)
            if "@" not in email or body.get("status") not in MEMBER_STATUSES:
                raise Problem(400, "Invalid Resource", "The resource submitted could not be validated.")
            if subscriber_hash(email) in fake_list.members:
                raise Problem(400, "Member Exists", f"{email} is already a list member.")
            member = fake._member(list_id, email, body["status"], body.get("merge_fields") or {}, now_text())
            fake_list.members[member["id"]] = member
            return jsonify(fake._member_out(fake_list, member))

    @app.delete(f"{bp}/lists/<list_id>/members/<member_hash>")
    def archive_member(list_id, member_hash):
        """DELETE archives the member (status "archived"); an archived or unknown one is a 404."""
        with fake.lock:
            fake_list = fake._list(list_id)
            found = fake_list.members.get(member_hash.lower())
            if found is None or found["status"] == "archived":
                raise Problem(404, "Resource Not Found", "The requested resource could not be found.")
            found.update(status="archived", last_changed=now_text())
            for held in fake_list.segment_members.values():
                held.discard(found["id"])
        return Response(status=204)

    @app.route(f"{bp}/lists/<list_id>/members/<member_hash>", methods=["GET", "PATCH", "PUT"])
    def member(list_id, member_hash):
        body = request.get_json(silent=True) or {}
        with fake.lock:
            fake_list = fake._list(list_id)
            found = fake_list.members.get(member_hash.lower())
            if found is None and request.method == "PUT" and body.get("status_if_new") in MEMBER_STATUSES:
                # add-or-update: a new member gets status_if_new (pending: Mailchimp sends the opt-in mail)
                found = fake._member(list_id, body.get("email_address") or "", body["status_if_new"],
                                     body.get("merge_fields") or {}, now_text())
                fake_list.members[found["id"]] = found
                return jsonify(fake._member_out(fake_list, found))
            if found is None:
                raise Problem(404, "Resource Not Found", "The requested resource could not be found.")
            if request.method != "GET":
                if "status" in body and body["status"] not in MEMBER_STATUSES:
                    raise Problem(400, "Invalid Resource", "The resource submitted could not be validated.")
                for key in ("status", "merge_fields"):
                    if key in body:
                        found[key] = body[key]
                found["last_changed"] = now_text()
            return jsonify(fake._member_out(fake_list, found))

    # --- segments (tags are static segments) ---------------------------------------------------

    @app.get(f"{bp}/lists/<list_id>/segments")
    def list_segments(list_id):
        kind = request.args.get("type")
        with fake.lock:
            fake_list = fake._list(list_id)
            out = [fake._segment_out(fake_list, sid) for sid, seg in fake_list.segments.items()
                   if kind is None or seg["type"] == kind]
        return page(out, "segments", list_id=list_id)

    @app.post(f"{bp}/lists/<list_id>/segments")
    def create_segment(list_id):
        body = request.get_json() or {}
        name = (body.get("name") or "").strip()
        with fake.lock:
            fake_list = fake._list(list_id)
            if not name or len(name) > 100:
                raise Problem(400, "Invalid Resource", "The resource submitted could not be validated.")
            if any(seg["name"] == name for seg in fake_list.segments.values()):
                raise Problem(400, "Bad Request", "Sorry, that tag already exists.")
            seg_id = next(fake._ids)
            fake_list.segments[seg_id] = {"id": seg_id, "name": name, "type": "static", "created_at": now_text(),
                                          "updated_at": now_text(), "options": {}}
            hashes = {subscriber_hash(e) for e in body.get("static_segment") or []}
            fake_list.segment_members[seg_id] = hashes & fake_list.members.keys()
            return jsonify(fake._segment_out(fake_list, seg_id))

    @app.get(f"{bp}/lists/<list_id>/segments/<segment_id>")
    def get_segment(list_id, segment_id):
        with fake.lock:
            fake_list = fake._list(list_id)
            return jsonify(fake._segment_out(fake_list, fake._segment(fake_list, segment_id)))

    @app.get(f"{bp}/lists/<list_id>/segments/<segment_id>/members")
    def segment_members(list_id, segment_id):
        with fake.lock:
            fake_list = fake._list(list_id)
            seg_id = fake._segment(fake_list, segment_id)
            out = [fake._member_out(fake_list, fake_list.members[h]) for h in sorted(fake_list.segment_members[seg_id])]
        return page(out, "members")

    @app.post(f"{bp}/lists/<list_id>/segments/<segment_id>")
    def batch_segment_members(list_id, segment_id):
        body = request.get_json() or {}
        to_add, to_remove = body.get("members_to_add") or [], body.get("members_to_remove") or []
        if len(to_add) > MAX_BATCH or len(to_remove) > MAX_BATCH:
            raise Problem(400, "Invalid Resource",
                          f"members_to_add and members_to_remove accept at most {MAX_BATCH} emails each.")
        with fake.lock:
            fake_list = fake._list(list_id)
            seg_id = fake._segment(fake_list, segment_id)
            held = fake_list.segment_members[seg_id]
            added, removed, unknown = [], [], []
            for emails, action in ((to_add, "add"), (to_remove, "remove")):
                for email in emails:
                    h = subscriber_hash(email)
                    if h not in fake_list.members:
                        unknown.append(email)
                    elif action == "add" and h not in held:
                        held.add(h)
                        added.append(_brief(fake_list.members[h]))
                    elif action == "remove" and h in held:
                        held.discard(h)
                        removed.append(_brief(fake_list.members[h]))
            fake_list.segments[seg_id]["updated_at"] = now_text()
        errors = [{"email_addresses": unknown, "error": "Email addresses are not list members"}] if unknown else []
        return jsonify({"members_added": added, "members_removed": removed, "errors": errors,
                        "total_added": len(added), "total_removed": len(removed), "error_count": len(unknown),
                        "_links": []})

    # --- campaigns ----------------------------------------------------------------------------

    @app.get(f"{bp}/campaigns")
    def list_campaigns():
        args = request.args
        with fake.lock:
            out = [c for c in fake.campaigns.values()
                   if (args.get("status") is None or c["status"] == args["status"])
                   and (args.get("list_id") is None or c["recipients"].get("list_id") == args["list_id"])
                   and (args.get("since_send_time") is None or c["send_time"] > _norm(args["since_send_time"]))]
            if args.get("sort_field") in ("send_time", "create_time"):
                out.sort(key=lambda c: c[args["sort_field"]], reverse=args.get("sort_dir") == "DESC")
        return page(out, "campaigns")

    @app.post(f"{bp}/campaigns")
    def create_campaign():
        body = request.get_json() or {}
        with fake.lock:
            list_id = (body.get("recipients") or {}).get("list_id")
            if body.get("type") not in ("regular", "plaintext") or list_id not in fake.lists:
                raise Problem(400, "Invalid Resource", "The resource submitted could not be validated.")
            return jsonify(fake._campaign(body))

    @app.get(f"{bp}/campaigns/<campaign_id>")
    def get_campaign(campaign_id):
        with fake.lock:
            return jsonify(fake._campaign_by_id(campaign_id))

    @app.patch(f"{bp}/campaigns/<campaign_id>")
    def update_campaign(campaign_id):
        """Update campaign settings: `settings` with subject_line, from_name and reply_to is required
        (and list_id in `recipients` when given); keys not sent keep their values."""
        body = request.get_json() or {}
        with fake.lock:
            campaign = fake._campaign_by_id(campaign_id)
            if campaign["status"] not in ("save", "paused"):
                raise Problem(400, "Bad Request", "Cannot update a campaign that has been sent or scheduled.")
            settings, recipients = body.get("settings"), body.get("recipients")
            if not isinstance(settings, dict) or any(k not in settings for k in ("subject_line", "from_name", "reply_to")):
                raise Problem(400, "Invalid Resource", "settings.subject_line, from_name and reply_to are required.")
            if recipients is not None and (recipients.get("list_id") not in fake.lists):
                raise Problem(400, "Invalid Resource", "recipients.list_id is required and must be a list.")
            if recipients is not None and "segment_opts" in recipients:
                fake._segment(fake.lists[recipients["list_id"]],
                              str(recipients["segment_opts"].get("saved_segment_id", "")))
            campaign["settings"].update(settings)
            if recipients is not None:
                campaign["recipients"] = {**campaign["recipients"], **recipients}
            fake.updates.append((campaign_id, body))
            return jsonify(campaign)

    @app.get(f"{bp}/campaigns/<campaign_id>/content")
    def get_content(campaign_id):
        with fake.lock:
            fake._campaign_by_id(campaign_id)
            return jsonify({**fake.contents[campaign_id], "_links": []})

    @app.put(f"{bp}/campaigns/<campaign_id>/content")
    def set_content(campaign_id):
        body = request.get_json() or {}
        with fake.lock:
            campaign = fake._campaign_by_id(campaign_id)
            if campaign["status"] not in ("save", "paused"):
                raise Problem(400, "Bad Request", "Cannot update the content of a sent or scheduled campaign.")
            fake.contents[campaign_id] = {"html": body.get("html") or "", "plain_text": body.get("plain_text") or ""}
            return jsonify({**fake.contents[campaign_id], "_links": []})

    @app.post(f"{bp}/campaigns/<campaign_id>/actions/replicate")
    def replicate(campaign_id):
        with fake.lock:
            original = fake._campaign_by_id(campaign_id)
            # Replicate copies everything: settings (preview text, from name, reply-to, template...),
            # tracking, recipients and content; only the title gets " (copy NN)".
            copies = 1 + sum(c["settings"].get("title", "").startswith(f"{original['settings'].get('title', '')} (copy")
                             for c in fake.campaigns.values())
            settings = {**original["settings"], "title": f"{original['settings'].get('title', '')} (copy {copies:02d})"}
            replica = fake._campaign({"type": original["type"], "recipients": dict(original["recipients"]),
                                      "settings": settings, "tracking": dict(original.get("tracking") or {})})
            fake.contents[replica["id"]] = dict(fake.contents[campaign_id])
            fake.replicated.append((campaign_id, replica["id"]))
            return jsonify(replica)

    @app.post(f"{bp}/campaigns/<campaign_id>/actions/schedule")
    def schedule(campaign_id):
        body = request.get_json(silent=True) or {}
        with fake.lock:
            campaign = fake._campaign_by_id(campaign_id)
            if not body.get("schedule_time") or campaign["status"] != "save":
                raise Problem(400, "Bad Request", "This campaign cannot be scheduled.")
            if _norm(body["schedule_time"])[14:16] not in ("00", "15", "30", "45"):
                raise Problem(400, "Invalid Resource", "Campaigns may only be scheduled on the quarter-hour.")
            campaign.update(status="schedule", send_time=body["schedule_time"])
        return Response(status=204)

    @app.post(f"{bp}/campaigns/<campaign_id>/actions/send")
    def send(campaign_id):
        with fake.lock:
            campaign = fake._campaign_by_id(campaign_id)
            if campaign["status"] not in ("save", "schedule"):
                raise Problem(400, "Bad Request", "This campaign has already been sent.")
            fake._deliver(campaign, now_text())
        return Response(status=204)

    # --- reports ------------------------------------------------------------------------------

    # --- e-commerce -------------------------------------------------------------------------------

    @app.get(f"{bp}/ecommerce/stores/<store_id>/orders")
    def store_orders(store_id):
        """List orders: count/offset paging, optional customer_id filter; {store_id, orders, total_items}."""
        with fake.lock:
            store = fake.stores.get(store_id)
            if store is None:
                raise Problem(404, "Resource Not Found", "The requested resource could not be found.")
            customer = request.args.get("customer_id")
            orders = [dict(o) for o in store["orders"].values() if customer is None or o["customer"]["id"] == customer]
        return page(orders, "orders", store_id=store_id)

    @app.get(f"{bp}/ecommerce/stores/<store_id>/orders/<order_id>")
    def store_order(store_id, order_id):
        with fake.lock:
            order = (fake.stores.get(store_id) or {}).get("orders", {}).get(order_id)
            if order is None:
                raise Problem(404, "Resource Not Found", "The requested resource could not be found.")
            return jsonify(dict(order))

    @app.get(f"{bp}/reports/<campaign_id>/sent-to")
    def sent_to(campaign_id):
        with fake.lock:
            campaign = fake._campaign_by_id(campaign_id)
            fake_list = fake.lists[campaign["recipients"]["list_id"]]
            out = [{"email_id": h, "email_address": fake_list.members[h]["email_address"], "status": "sent",
                    "open_count": sum(a["action"] == "open" for a in fake.activity[campaign_id].get(h, [])),
                    "campaign_id": campaign_id, "list_id": fake_list.id}
                   for h in fake.sent_to.get(campaign_id, [])]
        return page(out, "sent_to", campaign_id=campaign_id)

    @app.get(f"{bp}/reports/<campaign_id>/email-activity")
    def email_activity(campaign_id):
        since = request.args.get("since")
        with fake.lock:
            campaign = fake._campaign_by_id(campaign_id)
            fake_list = fake.lists[campaign["recipients"]["list_id"]]
            out = []
            for h, entries in fake.activity.get(campaign_id, {}).items():
                kept = [a for a in entries if since is None or a["timestamp"] > _norm(since)]
                if kept:
                    out.append({"campaign_id": campaign_id, "list_id": fake_list.id, "list_is_active": True,
                                "email_id": h, "email_address": fake_list.members[h]["email_address"],
                                "activity": kept})
        return page(out, "emails", campaign_id=campaign_id)


def _brief(member: dict) -> dict:
    return {key: member[key] for key in ("id", "email_address", "unique_email_id", "email_type", "status", "list_id")}


def _norm(stamp: str) -> str:
    """Timestamps compare as text once in the fake's own form (UTC, +00:00, no fraction)."""
    from datetime import datetime, timezone

    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).replace(microsecond=0).isoformat()
