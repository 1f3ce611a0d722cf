"""Every system prompt the services can ask for, with the words its placeholder speaks.

The list is voicemail.md 10.1 (the voicemail module) plus the callflow prompts; a
unit test scans the service packages for prompt ids so the two cannot
drift apart.  The words are ours, written for ``kzvoice prompts seed``: an operator
who wants KAZOO's recorded prompts imports them (``kzvoice prompts import``).
"""

from __future__ import annotations

from types import MappingProxyType

PROMPTS = MappingProxyType({
    # leaving a message (compose)
    "vm-greeting_intro": "Hello.",
    "vm-person": "The person at extension",
    "vm-not_available": "is not available.",
    "vm-person_not_available": "The person you are trying to reach is not available.",
    "vm-record_message": "Please leave your message after the tone. When you are done, hang up or press the "
                         "pound key.",
    "vm-review_recording": "To save your recording, press 1. To listen to it, press 2. To record it again, "
                           "press 3.",
    "vm-saved": "Saved.",
    "vm-thank_you": "Thank you.",
    "vm-not_available_no_voicemail": "The person you are trying to reach is not available and has no voicemail "
                                     "box.",
    "vm-mailbox_full": "The mailbox is full and cannot take any more messages.",
    # logging in (check)
    "vm-enter_id": "Please enter your mailbox number, followed by the pound key.",
    "menu-invalid_entry": "That entry is not valid.",
    "vm-enter_pass": "Please enter your password, followed by the pound key.",
    "vm-fail_auth": "That mailbox and password do not match.",
    "vm-abort": "Too many failed attempts. Goodbye.",
    "vm-no_access": "This mailbox has no password and cannot be reached from here.",
    # setup wizard and PIN changes
    "vm-setup_intro": "Welcome to your new voicemail box. Let us set it up.",
    "vm-setup_rec_greeting": "Now record the greeting your callers will hear.",
    "vm-setup_complete": "Your voicemail box is set up.",
    "vm-enter_new_pin": "Please enter your new password, followed by the pound key.",
    "vm-enter_new_pin_confirm": "Please enter your new password again to confirm it.",
    "vm-pin_set": "Your password has been changed.",
    "vm-pin_invalid": "That password cannot be used.",
    "vm-goodbye": "Goodbye.",
    # counting and playing messages
    "vm-no_messages": "no messages.",
    "vm-you_have": "You have",
    "vm-new_message": "new message",
    "vm-new_messages": "new messages",
    "vm-saved_message": "saved message",
    "vm-saved_messages": "saved messages",
    "vm-new_and": "new, and",
    "vm-main_menu": "To hear new messages, press 1. To hear saved messages, press 2. To change your settings, "
                    "press 5.",
    "vm-main_menu_not_configurable": "To hear new messages, press 1. To hear saved messages, press 2.",
    "vm-message_number": "Message number",
    "vm-received": "Received",
    "vm-message_menu": "To keep this message, press 1. To hear it again, press 2. To forward it, press 3. "
                       "To delete it, press 7.",
    "vm-deleted": "Deleted.",
    # forwarding
    "vm-enter_forward_id": "Please enter the mailbox number to forward this message to, followed by the pound key.",
    "vm-forward_abort": "The message was not forwarded.",
    "vm-message_forwarding": "To record an introduction, press 1. To forward the message as it is, press 2. "
                             "To cancel, press 0.",
    "vm-forward_confirmed": "The message was forwarded.",
    # settings
    "vm-settings_menu": "To record your unavailable greeting, press 1. To record your name, press 2. To change "
                        "your password, press 3. To record a temporary greeting, press 4. To delete it, press 5. "
                        "To return to the main menu, press 0.",
    "vm-settings_menu_announcement_on": "This box only plays an announcement. To record it, press 1. To return "
                                        "to the main menu, press 0.",
    "vm-record_greeting": "Record your greeting after the tone, then press the pound key.",
    "vm-record_name": "Say your name after the tone, then press the pound key.",
    "vm-record_temp_greeting": "Record your temporary greeting after the tone, then press the pound key.",
    # callback (voicemail.md 5.7) and callflow
    "cf-unauthorized_call": "You are not allowed to place this call.",
    "fault-can_not_be_completed_as_dialed": "Your call cannot be completed as dialed.",
})
"""prompt id -> the words its placeholder says."""

PROMPT_IDS = tuple(PROMPTS)
