// An Analysis as the tables a paper would print, in the one table model (joulebench/table.hpp),
// written as plain text (with a verdict per pair), Markdown, LaTeX (booktabs) or CSV. A pure
// serialiser: no statistics are computed here.

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/text_escape.hpp"
#include "joulebench/error.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::stats {

TableFormat table_format_from_string(std::string_view name) {
    if (name == "text") return TableFormat::kText;
    if (name == "md") return TableFormat::kMarkdown;
    if (name == "tex") return TableFormat::kLatex;
    if (name == "csv") return TableFormat::kCsv;
    throw Error(ErrorCategory::kInvalidArgument,
                "stats: parse output format '" + std::string(name) + "': unknown format",
                "use text, md, tex or csv");
}

namespace {

std::string pval(double p) {
    if (std::isnan(p)) return "n/a";
    if (p < 1e-4) return fmt::format("{:.2e}", p);
    return fmt::format("{:.4f}", p);
}

std::string interval(const Interval& i, bool percent) {
    if (percent) return fmt::format("[{}, {}]", percent_cell(i.lo), percent_cell(i.hi));
    return fmt::format("[{}, {}]", number_cell(i.lo), number_cell(i.hi));
}

// "uses 2.9% more energy than" / "takes 2.9% longer than" / "has a 2.9% higher median X than".
std::string comparison(const std::string& metric, double pct_diff) {
    std::string lower = metric;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const bool more = pct_diff >= 0.0;
    const std::string amount = fmt::format("{:.1f}%", std::fabs(pct_diff));
    if (lower.find("energy") != std::string::npos || lower.find("joule") != std::string::npos) {
        return fmt::format("uses {} {} energy than", amount, more ? "more" : "less");
    }
    if (lower.find("time") != std::string::npos || lower.find("second") != std::string::npos ||
        lower.find("wall") != std::string::npos || lower.find("duration") != std::string::npos) {
        return more ? fmt::format("takes {} longer than", amount)
                    : fmt::format("takes {} less time than", amount);
    }
    return fmt::format("has a {} {} median {} than", amount, more ? "higher" : "lower", metric);
}

std::string p_phrase(double p) {
    if (std::isnan(p)) return "p undefined";
    if (p < 0.001) return "p < 0.001";
    return fmt::format("p = {:.3f}", p);
}

std::string verdict(const Analysis& a, const PairSummary& p) {
    const std::string effect =
        fmt::format("{} effect (Cliff's delta {:+.3f})", to_string(p.magnitude), p.cliffs_delta);
    const std::string padj = p_phrase(p.p_adj) + (p.p_method == "exact-mann-whitney" ? " (exact Mann-Whitney)" : "");
    if (p.p_unreliable && !std::isnan(p.median_diff_pct)) {
        return fmt::format(
            "{} vs {}: too few values for a reliable p (a group has fewer than 5, and tied values "
            "rule out the exact test; asymptotic {}); {} {} {} by median; {}",
            p.a, p.b, padj, p.a, comparison(a.metric, p.median_diff_pct), p.b, effect);
    }
    if (std::isnan(p.median_diff_pct)) {
        return fmt::format("{} vs {}: median of {} is 0, no percentage; {}, {}", p.a, p.b, p.b,
                           effect, padj);
    }
    if (!std::isnan(p.p_adj) && p.p_adj < a.alpha) {
        return fmt::format("{} {} {}; {}, {}", p.a, comparison(a.metric, p.median_diff_pct), p.b,
                           effect, padj);
    }
    return fmt::format(
        "{} and {} do not differ significantly ({} at alpha {}); {} {} {} by "
        "median; {}",
        p.a, p.b, padj, a.alpha, p.a, comparison(a.metric, p.median_diff_pct), p.b, effect);
}

}  // namespace

std::vector<Table> tables(const Analysis& a) {
    std::vector<Table> out;
    Table groups{.title = "Groups (" + a.metric + ")",
                 .headers = {"group", "n", "mean", "median", "median 95% CI", "std", "min", "q1",
                             "q3", "max", "Shapiro W", "Shapiro p", "normal", "outliers"}};
    for (const auto& g : a.groups) {
        groups.rows.push_back(
            {g.name, std::to_string(g.d.n), number_cell(g.d.mean), number_cell(g.d.median),
             interval(g.median_ci95, false), number_cell(g.d.std), number_cell(g.d.min),
             number_cell(g.d.q1), number_cell(g.d.q3), number_cell(g.d.max),
             g.shapiro ? number_cell(g.shapiro->w) : "n/a", g.shapiro ? pval(g.shapiro->p) : "n/a",
             g.normal ? "yes" : "no", std::to_string(g.outliers.size())});
    }
    out.push_back(std::move(groups));
    if (a.kruskal) {
        // "1, 10" (ANOVA's two df) is a number pair, not a name.
        Table omni{.title = "Omnibus tests",
                   .headers = {"test", "statistic", "df", "p"},
                   .align = {Align::kLeft, Align::kRight, Align::kRight, Align::kRight}};
        omni.rows.push_back({"Kruskal-Wallis H", number_cell(a.kruskal->h),
                             number_cell(a.kruskal->df), pval(a.kruskal->p)});
        if (a.anova) {
            omni.rows.push_back({"one-way ANOVA F", number_cell(a.anova->f),
                                 fmt::format("{}, {}", number_cell(a.anova->df_between),
                                             number_cell(a.anova->df_within)),
                                 pval(a.anova->p)});
        }
        out.push_back(std::move(omni));
    }
    if (!a.pairs.empty()) {
        const auto any = [&](auto has) { return std::any_of(a.pairs.begin(), a.pairs.end(), has); };
        const bool mw = any([](const PairSummary& p) { return p.mann_whitney.has_value(); });
        const bool exact = any([](const PairSummary& p) { return p.p_method != "dunn"; });
        Table pairs{
            .title = fmt::format("Pairs (Dunn's test{}, p adjusted by {})",
                                 exact ? "; exact Mann-Whitney p where a group has fewer than 5 values" : "",
                                 to_string(a.p_adjust)),
            .headers = {"a", "b", "Dunn z", "p", "p adj", "Cliff's delta", "magnitude",
                        "mean diff (a - b)", "median diff %"}};
        if (mw) {
            pairs.headers.emplace_back("Mann-Whitney U");
            pairs.headers.emplace_back("Mann-Whitney p");
        }
        if (exact) pairs.headers.emplace_back("p from");
        for (const auto& p : a.pairs) {
            std::vector<std::string> row{p.a,
                                         p.b,
                                         number_cell(p.dunn_z),
                                         pval(p.p),
                                         pval(p.p_adj),
                                         number_cell(p.cliffs_delta),
                                         std::string(to_string(p.magnitude)),
                                         number_cell(p.mean_diff),
                                         percent_cell(p.median_diff_pct)};
            if (mw) {
                row.push_back(p.mann_whitney ? number_cell(p.mann_whitney->u) : "n/a");
                row.push_back(p.mann_whitney ? pval(p.mann_whitney->p) : "n/a");
            }
            if (exact) row.emplace_back(p.p_method == "dunn" ? "Dunn" : "exact Mann-Whitney");
            pairs.rows.push_back(std::move(row));
        }
        out.push_back(std::move(pairs));
    }
    if (!a.baseline.empty()) {
        Table base{.title = "Overhead against " + a.baseline.front().baseline + " (median, %)",
                   .headers = {"group", "overhead %", "95% CI"}};
        for (const auto& o : a.baseline) {
            base.rows.push_back(
                {o.group, percent_cell(o.overhead.pct), interval(o.overhead.ci, true)});
        }
        out.push_back(std::move(base));
    }
    return out;
}

std::vector<std::string> verdicts(const Analysis& a) {
    std::vector<std::string> out;
    out.reserve(a.pairs.size());
    for (const auto& p : a.pairs) out.push_back(verdict(a, p));
    return out;
}

std::string render(const Analysis& a, TableFormat format, const TableStyle& style) {
    std::string s;
    for (const Table& t : tables(a)) {
        if (!s.empty()) s += "\n";
        s += render_table(t, format, style);
    }
    if (format == TableFormat::kText) {
        if (!a.pairs.empty()) {
            s += fmt::format("\nVerdicts (p adjusted by {}, alpha {}):\n", to_string(a.p_adjust),
                             a.alpha);
            for (const auto& p : a.pairs) s += "- " + verdict(a, p) + "\n";
        }
        if (!a.warnings.empty()) {
            s += "\nWarnings:\n";
            for (const auto& w : a.warnings) s += "- " + w + "\n";
        }
    } else if (format == TableFormat::kMarkdown && !a.warnings.empty()) {
        s += "\n**Warnings**\n\n";
        for (const auto& w : a.warnings) s += "- " + md_escape(w) + "\n";
    }
    return s;
}

}  // namespace joulebench::stats
