// Progressive enhancement only: copy buttons. Every page works without this file.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-copy"));
  if (!field) return;
  var done = function () {
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = "Copy"; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
  } else {
    field.select();
    try { document.execCommand("copy"); done(); } catch (e) { /* the value stays selected */ }
  }
});

// Destructive actions lead to a confirmation page (which works without this file). Here the
// same question is asked in place (an empty `data-confirm` asks the link's own words, which
// name the action and whom it acts on); once confirmed, the very form that page would send (the
// one POST, with the session's CSRF token and the list's search and page) is sent.
document.addEventListener("click", function (event) {
  var link = event.target.closest("a[data-confirm]");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
  var token = document.querySelector("input[name=csrf_token]");
  if (!token) return;
  event.preventDefault();
  var question = link.getAttribute("data-confirm") || link.textContent.trim() + "?";
  if (!window.confirm(question)) return;
  var url = new URL(link.href, window.location.href);
  var form = document.createElement("form");
  form.method = "post";
  form.action = url.pathname.replace(/\/confirm$/, "");
  var add = function (name, value) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  };
  add("csrf_token", token.value);
  if (url.searchParams.get("q")) add("back_q", url.searchParams.get("q"));
  if (url.searchParams.get("page")) add("back_page", url.searchParams.get("page"));
  document.body.appendChild(form);
  form.submit();
});
