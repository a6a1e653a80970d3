// Launchers of the hand-written CUDA kernels (kernels/cuda/*.cu). All run on `stream`, take
// device pointers, check the launch, and never synchronize. Tensors are NCHW; `planes` = N*C,
// `plane` = H*W. Reductions are deterministic: fixed partitions, fixed combining order, no
// atomics, partial sums in double. Launchers over activations are templates over their element
// type T, instantiated for float, __nv_bfloat16 and __half (mixed precision); per-channel vectors,
// parameters, gradients of parameters, pooled features and logits are always float.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace dasnet::cuda {

// --- elementwise.cu ---------------------------------------------------------------------
void launch_fill(float* dst, size_t count, float value, cudaStream_t stream);
template <typename T>
void launch_relu_forward(const T* x, T* y, size_t count, cudaStream_t stream);
// dx = (accumulate ? dx : 0) + dy * [y > 0]
template <typename T>
void launch_relu_backward(const T* dy, const T* y, T* dx, size_t count, bool accumulate, cudaStream_t stream);
template <typename T>
void launch_add(const T* a, const T* b, T* y, size_t count, cudaStream_t stream);
template <typename T>
void launch_accumulate(const T* src, T* dst, size_t count, cudaStream_t stream);  // dst += src
// y = act(x * scale[c] + shift[c] (+ residual)); y may alias x. NCHW or (channels_last) NHWC.
template <typename T>
void launch_scale_shift_activate(const T* x, const float* scale, const float* shift, const T* residual, bool relu,
                                 T* y, int n, int channels, size_t plane, bool channels_last, cudaStream_t stream);
// x: n x channels x plane activations (NCHW or NHWC) -> y: n x channels floats; backward spreads
// dy back (or adds it).
template <typename T>
void launch_global_avg_pool_forward(const T* x, float* y, int n, int channels, size_t plane, bool channels_last,
                                    cudaStream_t stream);
template <typename T>
void launch_global_avg_pool_backward(const float* dy, T* dx, int n, int channels, size_t plane, bool channels_last,
                                     bool accumulate, cudaStream_t stream);
// NCHW -> NHWC (to_channels_last) or NHWC -> NCHW, converting float <-> T on the way (T may be
// float). Also reorders convolution weights OIHW <-> OHWI (n = O, channels = I, plane = kh*kw).
template <typename From, typename To>
void launch_permute(const From* src, To* dst, int n, int channels, size_t plane, bool to_channels_last,
                    cudaStream_t stream);
// dst = src converted (float <-> __nv_bfloat16 or __half; narrowing rounds to nearest even).
template <typename From, typename To>
void launch_convert(const From* src, To* dst, size_t count, cudaStream_t stream);
void launch_broadcast_rows(const float* row, float* y, int rows, int columns, cudaStream_t stream);
void launch_column_sums(const float* x, float* sums, int rows, int columns, cudaStream_t stream);
// lr_on_device (when not null) replaces lr: a captured graph reads each replay's learning rate.
// skip (when not null and nonzero on the device) leaves everything unchanged: loss scaling found
// this step's gradients overflowed.
void launch_sgd_update(float* params, const float* grads, float* velocity, size_t count, float lr,
                       const float* lr_on_device, const float* skip, float momentum, float weight_decay,
                       bool nesterov, cudaStream_t stream);

// Dynamic loss scaling (fp16 mixed precision), all on the device so a CUDA graph holds it: the
// loss gradient is multiplied by `scale`; unscale divides the flat gradients by it and sets
// found_inf when any is not finite; update then halves the scale (found_inf) or doubles it after
// growth_interval clean steps.
struct LossScaleState {
  float scale;
  float found_inf;
  int clean_steps;
  int skipped_steps;
};
void launch_unscale_gradients(float* grads, size_t count, LossScaleState* state, cudaStream_t stream);
void launch_update_loss_scale(LossScaleState* state, int growth_interval, cudaStream_t stream);

// --- reductions.cu ----------------------------------------------------------------------
// Per-channel reductions over n samples of `plane` values per channel, in NCHW or (channels_last)
// NHWC. Doubles of scratch they need for this shape:
size_t channel_reduction_scratch(int n, int channels, bool channels_last);
template <typename T>
void launch_channel_statistics(const T* x, float* mean, float* var, int n, int channels, size_t plane,
                               bool channels_last, double* scratch, cudaStream_t stream);
// Where the per-channel results below live in the scratch: 2 x channels doubles.
double* channel_reduction_result(double* scratch, int n, int channels, bool channels_last);
// Synchronized batchnorm: result[c] = sum of x, result[channels + c] = sum of x^2 (double).
template <typename T>
void launch_channel_sums(const T* x, int n, int channels, size_t plane, bool channels_last, double* scratch,
                         cudaStream_t stream);
// Batchnorm backward through an optional ReLU (mask from relu_output) with an optional residual
// gradient, in two phases (see Backend::batchnorm_backward) so that synchronized batchnorm can sum
// the per-channel results over the ranks in between. Sums: dgamma = sum g*xhat, dbeta = sum g;
// result[2c] = sum g / divisor, result[2c + 1] = sum g*xhat / divisor (divisor: the value count,
// or 1 for the raw sums). Apply: dx and dresidual from the result's means.
template <typename T>
void launch_batchnorm_backward_sums(const T* dy, const T* relu_output, const T* x, const float* mean,
                                    const float* invstd, float* dgamma, float* dbeta, double divisor, int n,
                                    int channels, size_t plane, bool channels_last, double* scratch,
                                    cudaStream_t stream);
template <typename T>
void launch_batchnorm_backward_apply(const T* dy, const T* relu_output, const T* x, const float* mean,
                                     const float* invstd, const float* gamma, T* dx, T* dresidual,
                                     bool accumulate_residual, int n, int channels, size_t plane, bool channels_last,
                                     double* scratch, cudaStream_t stream);
void launch_batchnorm_coefficients(int channels, const float* batch_mean, const float* batch_var, const float* gamma,
                                   const float* beta, float* running_mean, float* running_var, long count,
                                   float momentum, float eps, bool training, float* scale, float* shift,
                                   float* invstd, cudaStream_t stream);
size_t sum_squares_scratch();  // doubles
// result[0] = sum of x^2 (device double).
void launch_sum_squares(const float* x, size_t count, double* scratch, double* result, cudaStream_t stream);

// Loss modes, as Backend's OutputMode.
enum class LossKind { Sigmoid, Softmax, Multilabel };
// totals[0] = summed loss, totals[1] = correct count (device doubles); dlogits/probabilities
// optional; gradient_scale (device, optional) multiplies dlogits (loss scaling).
void launch_loss(LossKind kind, const float* logits, const int* labels, int n, int k, float* dlogits,
                 float* probabilities, const float* gradient_scale, double* totals, cudaStream_t stream);

}  // namespace dasnet::cuda
