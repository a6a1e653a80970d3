// Builds the study's ResNet-8 through the installed headers and library and runs one forward
// pass; prints the parameter count and the logits' shape so run.sh can check them.
#include <cstdio>
#include <vector>

#include "dasnet/build_config.h"
#include "kernels/backend_factory.h"
#include "models/resnet.h"

int main() {
  dasnet::ModelConfig config;
  config.depth = 8;
  config.height = 32;
  config.image_width = 32;
  auto backend = dasnet::make_backend(dasnet::BackendKind::Reference);
  auto net = dasnet::build_resnet(config, *backend, 1);
  std::vector<float> images(2 * 32 * 32, 0.5f);
  const dasnet::Tensor& logits = net->forward(images.data(), 2, false);
  std::printf("dasnet %s parameters %zu logits %d x %d\n", DASNET_VERSION, net->params().parameter_count(),
              logits.shape.n, int(logits.shape.per_sample()));
  return 0;
}
