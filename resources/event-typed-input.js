/*
 * The "event." TypedInput type shared by the dialogs of status-mapper, marketo-lead,
 * marketo-program-status and marketo-custom-activity: the platform event wherever it is now,
 * msg.source once field-mapper has run, else msg.payload.
 */
(function () {
  var kit = (window.eventsyncMarketo = window.eventsyncMarketo || {});
  kit.eventType = { value: "event", label: "event.", icon: "fa fa-calendar", hasValue: true };
})();
