// Feature selection: the demo's fixed list and an L2 logistic-regression ranking. Newton's method
// in double precision reaches the unique optimum to ~1e-9 in a dozen steps for ~50 features, so the
// ranking does not depend on a solver's stopping rule.
#include "titanic/selection.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include <fmt/format.h>

#include "keel/error.h"
#include "titanic/features.h"

namespace keel::data {

const std::vector<std::string>& demo_features() {
  static const std::vector<std::string> features = {
      "title_mr",        "title_master",     "sex_female",
      "age_cat_child",   "pclass_3",         "family_1",
      "family_3",        "title_mrs",        "pclass_1",
      "cabin_type_n",    "family_6",         "cabin_type_e",
      "family_5",        "sex_male",         "age_cat_adult",
      "fare_cat_50-100", "pclass_2",         "family_4",
      "embarked_c",      "cabin_type_d",     "title_officer",
      "family_11",       "embarked_s",       "age_cat_senior",
      "family_2",        "fare_cat_missing", "age_cat_young_adult",
      "embarked_q",      "family_8",         "fare_cat_0-12",
      "cabin_type_c",    "fare_cat_12-50",   "cabin_type_f"};
  return features;
}

FeatureSelection FeatureSelection::from_list(std::vector<std::string> features) {
  FeatureSelection s;
  s.method = Method::list;
  s.features = std::move(features);
  return s;
}

FeatureSelection FeatureSelection::ranked(int top_k, double c) {
  FeatureSelection s;
  s.method = Method::logistic_ranking;
  s.top_k = top_k;
  s.c = c;
  return s;
}

namespace {

// log(1 + exp(t)) without overflow for large |t|.
double softplus(double t) {
  return t > 0 ? t + std::log1p(std::exp(-t)) : std::log1p(std::exp(t));
}
double sigmoid(double t) {
  if (t >= 0) return 1.0 / (1.0 + std::exp(-t));
  const double e = std::exp(t);
  return e / (1.0 + e);
}

}  // namespace

LogisticFit fit_logistic_l2(const std::vector<std::vector<double>>& x, const std::vector<int>& y,
                            double c, double tolerance, int max_iterations) {
  const auto n = static_cast<Eigen::Index>(x.size());
  if (n == 0 || y.size() != x.size()) {
    throw Error(ErrorKind::runtime, fmt::format("logistic regression needs rows and one label per "
                                                "row (got {} rows, {} labels)",
                                                x.size(), y.size()));
  }
  if (!(c > 0))
    throw Error(ErrorKind::config,
                fmt::format("the inverse regularisation C must be > 0, got {}", c));
  const auto d = static_cast<Eigen::Index>(x[0].size());
  // Design matrix with a trailing column of ones for the intercept.
  Eigen::MatrixXd a(n, d + 1);
  Eigen::VectorXd t(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    if (static_cast<Eigen::Index>(x[static_cast<size_t>(i)].size()) != d) {
      throw Error(ErrorKind::runtime, "logistic regression rows differ in length");
    }
    for (Eigen::Index j = 0; j < d; ++j)
      a(i, j) = x[static_cast<size_t>(i)][static_cast<size_t>(j)];
    a(i, d) = 1.0;
    t(i) = y[static_cast<size_t>(i)] ? 1.0 : 0.0;
  }
  Eigen::VectorXd penalty = Eigen::VectorXd::Ones(d + 1);
  penalty(d) = 0.0;  // the intercept is not penalised

  auto objective = [&](const Eigen::VectorXd& w) {
    Eigen::VectorXd z = a * w;
    double loss = 0.0;
    for (Eigen::Index i = 0; i < n; ++i) loss += softplus(t(i) > 0.5 ? -z(i) : z(i));
    return c * loss + 0.5 * w.cwiseProduct(penalty).dot(w);
  };

  Eigen::VectorXd w = Eigen::VectorXd::Zero(d + 1);
  double f = objective(w);
  LogisticFit fit;
  for (int iter = 0;; ++iter) {
    Eigen::VectorXd z = a * w;
    Eigen::VectorXd p(n), s(n);
    for (Eigen::Index i = 0; i < n; ++i) {
      p(i) = sigmoid(z(i));
      s(i) = p(i) * (1.0 - p(i));
    }
    Eigen::VectorXd grad = c * a.transpose() * (p - t) + penalty.cwiseProduct(w);
    const double gnorm = grad.lpNorm<Eigen::Infinity>();
    fit.iterations = iter;
    fit.gradient_norm = gnorm;
    if (gnorm < tolerance) break;
    if (iter >= max_iterations) {
      throw Error(ErrorKind::runtime,
                  fmt::format("logistic regression did not converge in {} Newton steps (gradient "
                              "max-norm {:.3g}); the features may be badly scaled",
                              max_iterations, gnorm));
    }
    Eigen::MatrixXd h = c * a.transpose() * s.asDiagonal() * a;
    h.diagonal() += penalty;
    // The penalty makes h positive definite in the weights; the intercept's diagonal entry is
    // c * sum(s) > 0, so LDLT is safe and cheaper than a general solve.
    Eigen::VectorXd step = h.ldlt().solve(grad);
    // Backtracking (Armijo) keeps the first steps from overshooting when the start is far away.
    // Near the optimum a Newton step lowers f by less than f's rounding error, so changes within
    // that noise count as no increase; otherwise the search would shrink steps forever.
    const double noise = 1e-12 * std::max(1.0, std::abs(f));
    double alpha = 1.0;
    const double slope = grad.dot(step);
    Eigen::VectorXd next = w - step;
    double f_next = objective(next);
    while (f_next > f - 1e-4 * alpha * slope + noise && alpha > 1e-10) {
      alpha *= 0.5;
      next = w - alpha * step;
      f_next = objective(next);
    }
    w = next;
    f = f_next;
  }
  fit.coefficients.assign(w.data(), w.data() + d);
  fit.intercept = w(d);
  fit.objective = f;
  return fit;
}

FeatureRanking rank_features(const Table& train, const std::vector<std::string>& candidates,
                             double c) {
  const std::vector<std::string> names = candidates.empty() ? feature_columns(train) : candidates;
  std::vector<int64_t> index;
  for (const auto& name : names) index.push_back(train.column_index(name));
  const std::vector<int> labels = survived_labels(train);
  std::vector<std::vector<double>> x;
  x.reserve(static_cast<size_t>(train.num_rows()));
  for (const auto& row : train.rows()) {
    std::vector<double> r;
    r.reserve(index.size());
    for (int64_t i : index) r.push_back(row[static_cast<size_t>(i)]);
    x.push_back(std::move(r));
  }
  LogisticFit fit = fit_logistic_l2(x, labels, c);

  int correct = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double z = fit.intercept;
    for (size_t j = 0; j < index.size(); ++j) z += fit.coefficients[j] * x[i][j];
    correct += (z > 0 ? 1 : 0) == labels[i] ? 1 : 0;
  }

  std::vector<size_t> order(names.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::abs(fit.coefficients[a]) > std::abs(fit.coefficients[b]);
  });
  FeatureRanking ranking;
  for (size_t k : order) {
    ranking.names.push_back(names[k]);
    ranking.coefficients.push_back(fit.coefficients[k]);
  }
  ranking.intercept = fit.intercept;
  ranking.train_accuracy = static_cast<double>(correct) / static_cast<double>(x.size());
  ranking.iterations = fit.iterations;
  ranking.gradient_norm = fit.gradient_norm;
  return ranking;
}

std::string format_ranking(const FeatureRanking& ranking, int top_k) {
  size_t width = 7;
  for (const auto& name : ranking.names) width = std::max(width, name.size());
  std::string out = fmt::format(
      "feature ranking: L2 logistic regression, |coefficient| (intercept {:+.4f}, train accuracy "
      "{:.3f}, {} Newton steps, gradient {:.1e}); the top {} are kept\n",
      ranking.intercept, ranking.train_accuracy, ranking.iterations, ranking.gradient_norm, top_k);
  out += fmt::format("  {:>4}  {:<{}}  {:>10}\n", "rank", "feature", width, "coefficient");
  for (size_t k = 0; k < ranking.names.size(); ++k) {
    out += fmt::format("  {:>4}  {:<{}}  {:>+10.4f}{}\n", k + 1, ranking.names[k], width,
                       ranking.coefficients[k], static_cast<int>(k) < top_k ? "" : "  (dropped)");
  }
  return out;
}

std::vector<std::string> select_features(const Table& train, const FeatureSelection& selection,
                                         FeatureRanking* ranking) {
  const std::vector<std::string> valid = feature_columns(train);
  const std::unordered_set<std::string> valid_set(valid.begin(), valid.end());
  if (selection.method == FeatureSelection::Method::list) {
    if (selection.features.empty()) {
      throw Error(ErrorKind::config, "the feature list is empty; name at least one feature column");
    }
    std::unordered_set<std::string> seen;
    for (const auto& name : selection.features) {
      if (!valid_set.count(name)) {
        throw Error(ErrorKind::config,
                    fmt::format("the feature \"{}\" is not a column of the wrangled train table; "
                                "valid features are: {}",
                                name, fmt::join(valid, ", ")));
      }
      if (!seen.insert(name).second) {
        throw Error(ErrorKind::config,
                    fmt::format("the feature \"{}\" is listed twice; each feature is one pixel, "
                                "list it once",
                                name));
      }
    }
    return selection.features;
  }
  for (const auto& name : selection.candidates) {
    if (!valid_set.count(name)) {
      throw Error(
          ErrorKind::config,
          fmt::format("the ranking candidate \"{}\" is not a feature column; valid features "
                      "are: {}",
                      name, fmt::join(valid, ", ")));
    }
  }
  const auto available =
      static_cast<int>(selection.candidates.empty() ? valid.size() : selection.candidates.size());
  if (selection.top_k < 1 || selection.top_k > available) {
    throw Error(ErrorKind::config,
                fmt::format("top_k = {} features requested but {} can be ranked; choose 1..{}",
                            selection.top_k, available, available));
  }
  FeatureRanking r = rank_features(train, selection.candidates, selection.c);
  std::vector<std::string> kept(r.names.begin(), r.names.begin() + selection.top_k);
  if (ranking) *ranking = std::move(r);
  return kept;
}

}  // namespace keel::data
