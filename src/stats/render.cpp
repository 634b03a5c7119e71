// Renders an Analysis as the tables a paper would print: plain text (with a verdict per pair),
// Markdown, LaTeX (booktabs) or CSV. A pure serialiser: no statistics are computed here.

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

struct Table {
    std::string title;
    std::vector<std::string> headers;
    std::vector<std::vector<std::string>> rows;
};

std::string num(double v) {
    if (std::isnan(v)) return "n/a";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return fmt::format("{:.6g}", v);
}

std::string pval(double p) {
    if (std::isnan(p)) return "n/a";
    if (p < 1e-4) return fmt::format("{:.2e}", p);
    return fmt::format("{:.4f}", p);
}

std::string pct(double v) {
    if (!std::isfinite(v)) return "n/a";
    return fmt::format("{:+.2f}", v);
}

std::string interval(const Interval& i, bool percent) {
    if (percent) return fmt::format("[{}, {}]", pct(i.lo), pct(i.hi));
    return fmt::format("[{}, {}]", num(i.lo), num(i.hi));
}

std::vector<Table> tables(const Analysis& a) {
    std::vector<Table> out;
    Table groups{"Groups (" + a.metric + ")",
                 {"group", "n", "mean", "median", "median 95% CI", "std", "min", "max", "Shapiro W",
                  "Shapiro p", "normal", "outliers"},
                 {}};
    for (const auto& g : a.groups) {
        groups.rows.push_back({g.name, std::to_string(g.d.n), num(g.d.mean), num(g.d.median),
                               interval(g.median_ci95, false), num(g.d.std), num(g.d.min),
                               num(g.d.max), g.shapiro ? num(g.shapiro->w) : "n/a",
                               g.shapiro ? pval(g.shapiro->p) : "n/a", g.normal ? "yes" : "no",
                               std::to_string(g.outliers.size())});
    }
    out.push_back(std::move(groups));
    if (a.kruskal) {
        Table omni{"Omnibus tests", {"test", "statistic", "df", "p"}, {}};
        omni.rows.push_back(
            {"Kruskal-Wallis H", num(a.kruskal->h), num(a.kruskal->df), pval(a.kruskal->p)});
        if (a.anova) {
            omni.rows.push_back(
                {"one-way ANOVA F", num(a.anova->f),
                 fmt::format("{}, {}", num(a.anova->df_between), num(a.anova->df_within)),
                 pval(a.anova->p)});
        }
        out.push_back(std::move(omni));
    }
    if (!a.pairs.empty()) {
        const bool mw = a.pairs.front().mann_whitney.has_value();
        Table pairs{fmt::format("Pairs (Dunn's test, p adjusted by {})", to_string(a.p_adjust)),
                    {"a", "b", "Dunn z", "p", "p adj", "Cliff's delta", "magnitude",
                     "mean diff (a - b)", "median diff %"},
                    {}};
        if (mw) {
            pairs.headers.emplace_back("Mann-Whitney U");
            pairs.headers.emplace_back("Mann-Whitney p");
        }
        for (const auto& p : a.pairs) {
            std::vector<std::string> row{p.a,
                                         p.b,
                                         num(p.dunn_z),
                                         pval(p.p),
                                         pval(p.p_adj),
                                         num(p.cliffs_delta),
                                         std::string(to_string(p.magnitude)),
                                         num(p.mean_diff),
                                         pct(p.median_diff_pct)};
            if (p.mann_whitney) {
                row.push_back(num(p.mann_whitney->u));
                row.push_back(pval(p.mann_whitney->p));
            }
            pairs.rows.push_back(std::move(row));
        }
        out.push_back(std::move(pairs));
    }
    if (!a.baseline.empty()) {
        Table base{"Overhead against " + a.baseline.front().baseline + " (median, %)",
                   {"group", "overhead %", "95% CI"},
                   {}};
        for (const auto& o : a.baseline) {
            base.rows.push_back({o.group, pct(o.overhead.pct), interval(o.overhead.ci, true)});
        }
        out.push_back(std::move(base));
    }
    return out;
}

std::string text_table(const Table& t) {
    std::vector<std::size_t> width(t.headers.size());
    for (std::size_t c = 0; c < t.headers.size(); ++c) width[c] = t.headers[c].size();
    for (const auto& r : t.rows) {
        for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
    }
    auto line = [&](const std::vector<std::string>& cells) {
        std::string s;
        for (std::size_t c = 0; c < cells.size(); ++c) {
            // First column left-aligned (names), the rest right-aligned (numbers).
            s += c == 0 ? fmt::format("{:<{}}", cells[c], width[c])
                        : fmt::format("  {:>{}}", cells[c], width[c]);
        }
        return s + "\n";
    };
    std::string s = t.title + "\n" + line(t.headers);
    std::size_t total = 0;
    for (std::size_t c = 0; c < width.size(); ++c) total += width[c] + (c == 0 ? 0 : 2);
    s += std::string(total, '-') + "\n";
    for (const auto& r : t.rows) s += line(r);
    return s;
}

std::string md_table(const Table& t) {
    std::string s = "### " + md_escape(t.title) + "\n\n|";
    for (const auto& h : t.headers) s += " " + md_escape(h) + " |";
    s += "\n|";
    for (std::size_t c = 0; c < t.headers.size(); ++c) s += c == 0 ? " :--- |" : " ---: |";
    s += "\n";
    for (const auto& r : t.rows) {
        s += "|";
        for (const auto& cell : r) s += " " + md_escape(cell) + " |";
        s += "\n";
    }
    return s;
}

std::string tex_table(const Table& t) {
    std::string s = "% " + tex_escape(t.title) + "\n\\begin{tabular}{l" +
                    std::string(t.headers.size() - 1, 'r') + "}\n\\toprule\n";
    auto line = [](const std::vector<std::string>& cells) {
        std::string l;
        for (std::size_t c = 0; c < cells.size(); ++c) l += (c ? " & " : "") + tex_escape(cells[c]);
        return l + " \\\\\n";
    };
    s += line(t.headers) + "\\midrule\n";
    for (const auto& r : t.rows) s += line(r);
    return s + "\\bottomrule\n\\end{tabular}\n";
}

std::string csv_table(const Table& t) {
    // One block per table, separated by a blank line; the first column names the table.
    std::string s = "table";
    for (const auto& h : t.headers) s += "," + csv_field(h);
    s += "\n";
    for (const auto& r : t.rows) {
        s += csv_field(t.title);
        for (const auto& cell : r) s += "," + csv_field(cell);
        s += "\n";
    }
    return s;
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
    const std::string padj = p_phrase(p.p_adj);
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

std::vector<std::string> verdicts(const Analysis& a) {
    std::vector<std::string> out;
    out.reserve(a.pairs.size());
    for (const auto& p : a.pairs) out.push_back(verdict(a, p));
    return out;
}

std::string render(const Analysis& a, TableFormat format) {
    const std::vector<Table> ts = tables(a);
    std::string s;
    for (std::size_t i = 0; i < ts.size(); ++i) {
        if (i > 0) s += "\n";
        switch (format) {
            case TableFormat::kText:
                s += text_table(ts[i]);
                break;
            case TableFormat::kMarkdown:
                s += md_table(ts[i]);
                break;
            case TableFormat::kLatex:
                s += tex_table(ts[i]);
                break;
            case TableFormat::kCsv:
                s += csv_table(ts[i]);
                break;
        }
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
