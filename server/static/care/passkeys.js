// After a passkey is added (django-otp-webauthn's registration script announces it), open the
// page this one names: the recovery codes after a first second factor, or the list of passkeys.
(function () {
  "use strict";
  document.addEventListener("otp_webauthn.register_complete", function () {
    var holder = document.getElementById("passkey-add");
    window.location.assign(holder.dataset.after);
  });
})();
