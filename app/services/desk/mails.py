"""The texts of the desk's mails: the asker's receipt, the desk's answer, and the note to staff that a new
inquiry came in (which carries no personal data). Each ends with the desk's signature."""

from __future__ import annotations

from app.i18n import gettext as _
from app.services.desk.common import CONTACT_METHODS, category_label
from app.services.desk.contact import Desk, Post
from app.services.desk.validation import InquiryValues


def signature(desk: Desk) -> str:
    lines = ["――――――――――", desk.name]
    if desk.phone and desk.hours:
        lines.append(_("Phone: %(phone)s (%(hours)s)", phone=desk.phone, hours=desk.hours))
    elif desk.phone:
        lines.append(_("Phone: %(phone)s", phone=desk.phone))
    if desk.email:
        lines.append(_("E-mail: %(email)s", email=desk.email))
    return "\n".join(lines)


def receipt_mail(inquiry: dict, values: InquiryValues, post: Post) -> tuple[str, str]:
    subject = _("[%(desk)s] We received your inquiry (%(reference)s)", desk=post.desk.name, reference=inquiry["reference"])
    lines = [
        _("Dear %(name)s,", name=values.name), "",
        _("Thank you for contacting %(desk)s. We received your inquiry as below; the desk will answer you soon.",
          desk=post.desk.name), "",
        _("Reference number: %(reference)s", reference=inquiry["reference"]),
        _("Category: %(category)s", category=category_label(values.category)),
        _("Preferred contact: %(method)s", method=str(CONTACT_METHODS.get(values.contact_method, ""))), "",
        _("Your message:"), values.message, "",
    ]
    if inquiry["account"]:
        lines += [_("You can follow this inquiry and reply in the app:"),
                  post.links.absolute(post.links.thread(inquiry["id"])), ""]
    elif post.desk.email:
        lines += [_("To add something, reply to this mail and keep the reference number in the subject."), ""]
    lines.append(signature(post.desk))
    return subject, "\n".join(lines)


def reply_mail(inquiry: dict, body: str, post: Post) -> tuple[str, str]:
    subject = _("[%(desk)s] Answer to your inquiry (%(reference)s)", desk=post.desk.name, reference=inquiry["reference"])
    lines = [_("Dear %(name)s,", name=inquiry["name"]), "", body, "",
             _("Reference number: %(reference)s", reference=inquiry["reference"])]
    if inquiry["account"]:
        lines.append(_("You can also read and answer this in the app: %(url)s",
                       url=post.links.absolute(post.links.thread(inquiry["id"]))))
    elif post.desk.email:
        lines.append(_("To answer, reply to this mail."))
    lines += ["", signature(post.desk)]
    return subject, "\n".join(lines)


def staff_mail(inquiry: dict, post: Post) -> tuple[str, str]:
    # The asker's name and question stay in the inbox: a mail to staff carries no personal data.
    subject = _("New inquiry %(reference)s: %(category)s", reference=inquiry["reference"],
                category=category_label(inquiry["category"]))
    body = "\n".join([
        _("A new inquiry came in to %(desk)s.", desk=post.desk.name), "",
        _("Reference number: %(reference)s", reference=inquiry["reference"]),
        _("Category: %(category)s", category=category_label(inquiry["category"])), "",
        _("Open it in the inbox: %(url)s", url=post.links.absolute(post.links.staff(inquiry["id"]))),
    ])
    return subject, body
