// Starts Swagger UI on /api/docs (web/apidocs.py): a file, not an inline script, so the
// page keeps the strict Content-Security-Policy. validatorUrl: null keeps the UI from
// sending the API description to swagger.io's validator.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") { return; }
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
}());
