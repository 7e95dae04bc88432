// "Copier le texte": the clipboard where the browser allows it, else the text is selected.
document.querySelectorAll("[data-copy]").forEach(function (button) {
  button.addEventListener("click", function () {
    var box = document.getElementById(button.getAttribute("data-copy"));
    box.select();
    var done = function () { button.textContent = "Texte copié"; };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(box.value).then(done, function () {});
    } else if (document.execCommand("copy")) {
      done();
    }
  });
});
