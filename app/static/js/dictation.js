// Dictation into a message box with the browser's speech recognition, in French. The button
// stays hidden where the browser has none (Firefox, some phones): nothing else changes.
(function () {
  "use strict";
  var Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  if (!Recognition) return;
  document.querySelectorAll("[data-dictation-for]").forEach(function (button) {
    var box = document.getElementById(button.getAttribute("data-dictation-for"));
    var label = button.querySelector("span");
    var idle = label.textContent;
    var listening = null;
    button.hidden = false;
    function stop() {
      button.setAttribute("aria-pressed", "false");
      button.classList.remove("active");
      label.textContent = idle;
      listening = null;
    }
    button.addEventListener("click", function () {
      if (listening) { listening.stop(); return; }
      var recognition = new Recognition();
      recognition.lang = "fr-FR";
      recognition.interimResults = false;
      recognition.continuous = true;
      recognition.onresult = function (event) {
        for (var i = event.resultIndex; i < event.results.length; i++) {
          if (!event.results[i].isFinal) continue;
          var text = event.results[i][0].transcript.trim();
          var before = box.value && !/\s$/.test(box.value) ? " " : "";
          box.value = (box.value + before + text).slice(0, box.maxLength > 0 ? box.maxLength : undefined);
        }
      };
      recognition.onend = stop;
      recognition.onerror = stop;
      listening = recognition;
      button.setAttribute("aria-pressed", "true");
      button.classList.add("active");
      label.textContent = "Arrêter";
      recognition.start();
    });
  });
})();
