// Follows a running sync: reloads the progress box from the page itself
// every second until the run ends. Without JavaScript the page offers a
// "Refresh" link instead.
(function () {
  var box = document.getElementById("progress");
  if (!box || box.getAttribute("data-state") === "done" || box.getAttribute("data-state") === "failed") return;
  var timer = setInterval(function () {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = doc.getElementById("progress");
        var main = document.querySelector("main");
        var freshMain = doc.querySelector("main");
        if (!fresh || !freshMain) return;
        var state = fresh.getAttribute("data-state");
        if (state === "done" || state === "failed" || state === "died") {
          clearInterval(timer);
          main.innerHTML = freshMain.innerHTML;
        } else {
          box.innerHTML = fresh.innerHTML;
        }
      })
      .catch(function () {});
  }, 1000);
})();
