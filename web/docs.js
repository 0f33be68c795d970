"use strict";
// Starts Swagger UI (npm's swagger-ui-dist, served by this Tessera under
// /static/swagger/, see web/vendor/) on this server's OpenAPI document. Every
// file and every "Try it out" call stays on this origin: the page works
// offline, and its Content-Security-Policy allows nothing else.
(function () {
  const root = document.getElementById("swagger-ui");
  if (typeof SwaggerUIBundle !== "function") {
    root.textContent = "Swagger UI did not load from /static/swagger/; the API document is at " +
      "/api/v1/openapi.json.";
    return;
  }
  // The document sits beside this page (/api/v1/docs → /api/v1/openapi.json).
  const url = location.pathname.replace(/\/docs\/?$/, "/openapi.json");
  window.ui = SwaggerUIBundle({
    url: url,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    // The default would send the document to validator.swagger.io.
    validatorUrl: null,
    // ?url= and ?configUrl= must not point this page at another document.
    queryConfigEnabled: false,
    // A Bearer token given to Authorize lives in this tab only, never in
    // localStorage.
    persistAuthorization: false,
    displayRequestDuration: true,
    tryItOutEnabled: false,
  });
})();
