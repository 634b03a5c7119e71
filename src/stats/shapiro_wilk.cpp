// Shapiro-Wilk W test for normality (Shapiro & Wilk 1965) with the coefficient and p-value
// approximations of Royston (1995), "Remark AS R94: A remark on algorithm AS 181: the W-test for
// normality", Applied Statistics 44(4), 547-551.
//
// Written by hand because no Debian-packaged C or C++ library provides it (Boost.Math, GSL and
// the others have no Shapiro-Wilk). It follows the published algorithm step by step as SciPy's
// swilk.f and R's swilk.c compute it (uncensored case), in double precision, so W agrees with
// SciPy to ~1e-6 and p to ~1e-5 (SciPy keeps the coefficients in single precision).

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <vector>

#include "common.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::stats {

namespace {

// Algorithm AS 181.2 (Royston 1982): c[0] + c[1] x + ... + c[nord-1] x^(nord-1).
double poly(const double* c, int nord, double x) {
    double result = c[0];
    if (nord > 1) {
        double p = x * c[nord - 1];
        for (int j = nord - 2; j > 0; --j) p = (p + c[j]) * x;
        result += p;
    }
    return result;
}

constexpr std::size_t kMinN = 3;
constexpr std::size_t kMaxN = 5000;

}  // namespace

ShapiroWilk shapiro_wilk(std::span<const double> values) {
    detail::require_finite_nonempty(values, "shapiro-wilk");
    const std::size_t n = values.size();
    if (n < kMinN || n > kMaxN) {
        throw Error(ErrorCategory::kInvalidArgument,
                    "stats: shapiro-wilk: needs 3 to 5000 values, got " + std::to_string(n),
                    "Royston's p-value approximation covers 3 <= n <= 5000");
    }
    // Polynomial coefficients of AS R94.
    static constexpr double kG[2] = {-2.273, .459};
    static constexpr double kC1[6] = {0., .221157, -.147981, -2.07119, 4.434685, -2.706056};
    static constexpr double kC2[6] = {0., .042981, -.293762, -1.752461, 5.682633, -3.582633};
    static constexpr double kC3[4] = {.544, -.39978, .025054, -6.714e-4};
    static constexpr double kC4[4] = {1.3822, -.77857, .062767, -.0020322};
    static constexpr double kC5[4] = {-1.5861, -.31082, -.083751, .0038915};
    static constexpr double kC6[3] = {-.4803, -.082676, .0030302};
    static constexpr double kSmall = 1e-19;

    // As SciPy: centre on the median (W is location-invariant; this keeps the range test and the
    // scaled sums well conditioned), then sort.
    std::vector<double> x(values.begin(), values.end());
    const double med = median(x);
    for (double& v : x) v -= med;
    std::sort(x.begin(), x.end());

    const auto an = static_cast<double>(n);
    const std::size_t nn2 = n / 2;
    std::vector<double> a(nn2 + 1);  // 1-based as in the paper
    const boost::math::normal_distribution<double> std_normal;
    if (n == 3) {
        a[1] = 0.70710678;  // sqrt(1/2), as the published constant
    } else {
        const double an25 = an + .25;
        double summ2 = 0.0;
        for (std::size_t i = 1; i <= nn2; ++i) {
            a[i] = boost::math::quantile(std_normal, (static_cast<double>(i) - .375) / an25);
            summ2 += a[i] * a[i];
        }
        summ2 *= 2.;
        const double ssumm2 = std::sqrt(summ2);
        const double rsn = 1. / std::sqrt(an);
        const double a1 = poly(kC1, 6, rsn) - a[1] / ssumm2;
        std::size_t i1 = 0;
        double fac = 0.0;
        if (n > 5) {
            i1 = 3;
            const double a2 = -a[2] / ssumm2 + poly(kC2, 6, rsn);
            fac = std::sqrt((summ2 - 2. * (a[1] * a[1]) - 2. * (a[2] * a[2])) /
                            (1. - 2. * (a1 * a1) - 2. * (a2 * a2)));
            a[2] = a2;
        } else {
            i1 = 2;
            fac = std::sqrt((summ2 - 2. * (a[1] * a[1])) / (1. - 2. * (a1 * a1)));
        }
        a[1] = a1;
        for (std::size_t i = i1; i <= nn2; ++i) a[i] /= -fac;
    }

    ShapiroWilk result;
    const double range = x[n - 1] - x[0];
    if (range < kSmall) {
        // ifault 6 in AS R94: SciPy then returns W = 1, p = 1 (with a warning).
        result.zero_range = true;
        return result;
    }

    // W as the squared correlation between the scaled data and the coefficients.
    auto coef = [&](std::size_t i, std::size_t j) {  // sign(i - j) a[1 + min(i, j)], 0-based i, j
        if (i == j) return 0.0;
        return i < j ? -a[1 + i] : a[1 + j];
    };
    double sa = 0.0;
    double sx = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        sa += coef(i, n - 1 - i);
        sx += x[i] / range;
    }
    sa /= an;
    sx /= an;
    double ssa = 0.0;
    double ssx = 0.0;
    double sax = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double asa = coef(i, n - 1 - i) - sa;
        const double xsx = x[i] / range - sx;
        ssa += asa * asa;
        ssx += xsx * xsx;
        sax += asa * xsx;
    }
    // w1 = 1 - W, computed so as to avoid rounding error for W near 1 (large samples).
    const double ssassx = std::sqrt(ssa * ssx);
    const double w1 = (ssassx - sax) * (ssassx + sax) / (ssa * ssx);
    result.w = 1. - w1;

    if (n == 3) {
        // Exact p-value for n = 3.
        constexpr double kPi6 = 1.90985931710274;   // 6 / pi
        constexpr double kStqr = 1.04719755119660;  // asin(sqrt(3/4))
        result.p = std::max(0.0, kPi6 * (std::asin(std::sqrt(result.w)) - kStqr));
        return result;
    }
    double y = std::log(w1);
    const double xx = std::log(an);
    double m = 0.0;
    double s = 0.0;
    if (n <= 11) {
        const double gamma = poly(kG, 2, an);
        if (y >= gamma) {
            result.p = kSmall;  // SciPy's swilk.f value (R uses 1e-99)
            return result;
        }
        y = -std::log(gamma - y);
        m = poly(kC3, 4, an);
        s = std::exp(poly(kC4, 4, an));
    } else {
        m = poly(kC5, 4, xx);
        s = std::exp(poly(kC6, 3, xx));
    }
    result.p = detail::normal_sf((y - m) / s);
    return result;
}

}  // namespace joulebench::stats
