#pragma once
// The scripts and the style of the HTML report, inlined at build time from report/web (see
// report/report_assets.cmake): Vega, Vega-Lite and vega-embed as npm built them (minified UMD
// bundles, versions pinned by report/web/package-lock.json), and the page's own report.js and
// report.css. Each function returns the whole file.

#include <string>
#include <string_view>

namespace joulebench::report {

[[nodiscard]] std::string asset_vega();
[[nodiscard]] std::string asset_vega_lite();
[[nodiscard]] std::string asset_vega_embed();
[[nodiscard]] std::string asset_report_js();
[[nodiscard]] std::string asset_report_css();

}  // namespace joulebench::report
