// Forward 3x3 convolution time, fp32 vs bf16 (oneDNN picks the layout), ms per call. Standalone:
// (outside the bench/*.cpp glob: a oneDNN-less build must not compile it.)
// g++ -O1 bench/probes/onednn_bf16_probe.cpp -ldnnl -o /tmp/probe && ONEDNN_VERBOSE=1 /tmp/probe
#include <oneapi/dnnl/dnnl.hpp>
#include <chrono>
#include <cstdio>
using namespace dnnl;
static void run(memory::data_type t, engine& eng, stream& s) {
  const memory::dim N = 8, C = 16, H = 200, W = 200;
  memory::desc src({N, C, H, W}, t, memory::format_tag::any), wei({C, C, 3, 3}, t, memory::format_tag::any),
      dst({N, C, H, W}, t, memory::format_tag::any);
  convolution_forward::desc fd(prop_kind::forward_training, algorithm::convolution_direct, src, wei, dst, {1, 1},
                               {1, 1}, {1, 1});
  convolution_forward::primitive_desc pd(fd, eng);
  memory a(pd.src_desc(), eng), b(pd.weights_desc(), eng), c(pd.dst_desc(), eng);
  convolution_forward p(pd);
  for (int i = 0; i < 3; ++i) p.execute(s, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
  s.wait();
  const int n = 20;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) p.execute(s, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
  s.wait();
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / n;
  std::printf("%s %s: %.2f ms\n", t == memory::data_type::bf16 ? "bf16" : "fp32", pd.impl_info_str(), ms);
}
int main() {
  engine eng(engine::kind::cpu, 0); stream s(eng);
  run(memory::data_type::f32, eng, s); run(memory::data_type::bf16, eng, s);
  run(memory::data_type::f32, eng, s); run(memory::data_type::bf16, eng, s);
}
