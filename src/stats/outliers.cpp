// Outliers by the modified z-score of Iglewicz & Hoaglin (1993), "How to Detect and Handle
// Outliers", ASQC Quality Press: M_i = |x_i - median| / (1.4826 MAD), flagged when M_i > 3.5.
// 1.4826 = 1 / Phi^-1(3/4) makes the MAD a consistent estimator of sigma for normal data.
// When MAD = 0 (more than half the values equal) the scale falls back to 1.253314 x the mean
// absolute deviation from the median (1.253314 = sqrt(pi / 2), the same consistency for normal
// data); when that is zero as well, every value equals the median and nothing is flagged.

#include <cmath>
#include <vector>

#include "common.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::stats {

std::vector<std::size_t> mad_outliers(std::span<const double> values, double threshold) {
    detail::require_finite_nonempty(values, "outliers");
    const double med = median(values);
    std::vector<double> dev(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) dev[i] = std::fabs(values[i] - med);
    double scale = 1.4826 * median(dev);
    if (scale == 0.0) {
        double sum = 0.0;
        for (const double d : dev) sum += d;
        scale = 1.253314 * sum / static_cast<double>(dev.size());
    }
    std::vector<std::size_t> flagged;
    if (scale == 0.0) return flagged;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (dev[i] / scale > threshold) flagged.push_back(i);
    }
    return flagged;
}

}  // namespace joulebench::stats
