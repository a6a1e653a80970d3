#include "kernels/cpu_loss.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace dasnet {

namespace {
// log(1 + exp(-|z|)) + max(z, 0) - z*y: binary cross-entropy on a logit, stable for any z.
double bce_with_logit(double z, double y) { return std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::fabs(z))); }
double sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z)); }
}  // namespace

LossTotals cpu_loss(OutputMode mode, const Tensor& logits, const int* labels, Tensor* dlogits,
                    Tensor* probabilities) {
  const int n = logits.shape.n;
  const int k = int(logits.shape.per_sample());
  LossTotals totals;
  validate_labels(mode, n, k, labels);
  std::vector<double> p(k);
  for (int i = 0; i < n; ++i) {
    const float* z = logits.data + size_t(i) * k;
    const int label = labels[i];
    double sample_loss = 0;
    bool correct = true;
    if (mode == OutputMode::Softmax) {
      double zmax = *std::max_element(z, z + k), sum = 0;
      for (int j = 0; j < k; ++j) sum += (p[j] = std::exp(double(z[j]) - zmax));
      for (int j = 0; j < k; ++j) p[j] /= sum;
      sample_loss = (std::log(sum) + zmax) - z[label];
      correct = int(std::max_element(z, z + k) - z) == label;
      if (dlogits)
        for (int j = 0; j < k; ++j) dlogits->data[size_t(i) * k + j] = float((p[j] - (j == label)) / n);
    } else {
      // Sigmoid (k = 1) is multilabel with one class; PyTorch's BCE averages over all n*k terms.
      for (int j = 0; j < k; ++j) {
        double y = (label >> j) & 1;
        p[j] = sigmoid(z[j]);
        sample_loss += bce_with_logit(z[j], y) / k;
        correct = correct && ((p[j] > 0.5) == (y > 0.5));
        if (dlogits) dlogits->data[size_t(i) * k + j] = float((p[j] - y) / (double(n) * k));
      }
    }
    if (probabilities)
      for (int j = 0; j < k; ++j) probabilities->data[size_t(i) * k + j] = float(p[j]);
    totals.loss_sum += sample_loss;
    totals.correct += correct;
  }
  return totals;
}

}  // namespace dasnet
