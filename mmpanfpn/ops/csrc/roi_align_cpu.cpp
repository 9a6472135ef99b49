// Average RoIAlign forward and backward on the CPU, equal to mmcv 2.x's
// `roi_align_forward` / `roi_align_backward` (mmcv/ops/csrc/pytorch/cpu/
// roi_align.cpp, pool_mode avg) bit for bit, on all intra-op threads and
// with the channel loop vectorised.
//
// mmcv's kernel is one serial loop over RoIs and channels that reads each
// channel plane at scattered positions. Here the features are read as
// channel rows (NHWC): every sample point's four corners are four contiguous
// rows, so the innermost loop runs over channels and vectorises, and the RoIs
// are shared out among threads. The arithmetic is mmcv's, operation for
// operation and in the same order: the sampling points and bilinear weights
// come from the same formulas (pre_calc_for_bilinear_interpolate), a sample
// is w1*v1 + w2*v2 + w3*v3 + w4*v4 left to right, a bin sums its samples iy
// outer, ix inner, starting from 0, and divides by their count. Built with
// -ffp-contract=off (no fused multiply-add), vector lanes round exactly like
// mmcv's scalar code, so the results are identical (tests/test_roi_align.py).
//
// Adapted from mmcv (https://github.com/open-mmlab/mmcv, Apache-2.0,
// Copyright (c) OpenMMLab): the sampling and interpolation arithmetic of
// mmcv/ops/csrc/pytorch/cpu/roi_align.cpp.
#include <Python.h>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

template <typename T>
struct PreCalc {
  int64_t pos1, pos2, pos3, pos4;
  T w1, w2, w3, w4;
};

// One RoI's sampling grid, as mmcv's kernels compute it (forward and
// backward alike), with the checks mmcv lacks or asserts.
template <typename T>
struct RoIGrid {
  int batch;
  T start_h, start_w, bin_h, bin_w;
  int grid_h, grid_w;

  RoIGrid(const T* roi, int64_t n, int64_t num_images, T spatial_scale,
          int pooled_height, int pooled_width, int sampling_ratio,
          bool aligned) {
    batch = roi[0];
    // mmcv reads out of bounds here
    TORCH_CHECK(batch >= 0 && batch < num_images, "RoIAlign: RoI ", n,
                " has batch index ", roi[0], ", the features have ",
                num_images, " image(s)");
    // mmcv's arithmetic from here on
    T offset = aligned ? (T)0.5 : (T)0.0;
    start_w = roi[1] * spatial_scale - offset;
    start_h = roi[2] * spatial_scale - offset;
    T roi_end_w = roi[3] * spatial_scale - offset;
    T roi_end_h = roi[4] * spatial_scale - offset;
    T roi_width = roi_end_w - start_w;
    T roi_height = roi_end_h - start_h;
    if (aligned) {
      TORCH_CHECK(roi_width >= 0 && roi_height >= 0,
                  "ROIs in ROIAlign cannot have non-negative size!");
    } else {  // mmcv's backward-compatible mode
      roi_width = std::max(roi_width, (T)1.);
      roi_height = std::max(roi_height, (T)1.);
    }
    bin_h = static_cast<T>(roi_height) / static_cast<T>(pooled_height);
    bin_w = static_cast<T>(roi_width) / static_cast<T>(pooled_width);
    grid_h = (sampling_ratio > 0) ? sampling_ratio
                                  : ceilf(roi_height / pooled_height);
    grid_w = (sampling_ratio > 0) ? sampling_ratio
                                  : ceilf(roi_width / pooled_width);
  }

  // the sample point (iy, ix) of bin (ph, pw)
  T y(int ph, int iy) const {
    return start_h + ph * bin_h +
           static_cast<T>(iy + .5f) * bin_h / static_cast<T>(grid_h);
  }
  T x(int pw, int ix) const {
    return start_w + pw * bin_w +
           static_cast<T>(ix + .5f) * bin_w / static_cast<T>(grid_w);
  }
};

// mmcv's bilinear corners and weights of the point (y, x) (its
// pre_calc_for_bilinear_interpolate / bilinear_interpolate_gradient);
// false, with zero weights at position 0, for a point off the map
template <typename T>
bool bilinear(const int height, const int width, T y, T x, PreCalc<T>& pc) {
  if (y < -1.0 || y > height || x < -1.0 || x > width) {
    pc.pos1 = pc.pos2 = pc.pos3 = pc.pos4 = 0;
    pc.w1 = pc.w2 = pc.w3 = pc.w4 = 0;
    return false;
  }
  if (y <= 0) y = 0;
  if (x <= 0) x = 0;
  int y_low = (int)y;
  int x_low = (int)x;
  int y_high;
  int x_high;
  if (y_low >= height - 1) {
    y_high = y_low = height - 1;
    y = (T)y_low;
  } else {
    y_high = y_low + 1;
  }
  if (x_low >= width - 1) {
    x_high = x_low = width - 1;
    x = (T)x_low;
  } else {
    x_high = x_low + 1;
  }
  T ly = y - y_low;
  T lx = x - x_low;
  T hy = 1. - ly, hx = 1. - lx;
  pc.pos1 = (int64_t)y_low * width + x_low;
  pc.pos2 = (int64_t)y_low * width + x_high;
  pc.pos3 = (int64_t)y_high * width + x_low;
  pc.pos4 = (int64_t)y_high * width + x_high;
  pc.w1 = hy * hx;
  pc.w2 = hy * lx;
  pc.w3 = ly * hx;
  pc.w4 = ly * lx;
  return true;
}

// acc[c] += w1*r1[c] + w2*r2[c] + w3*r3[c] + w4*r4[c]: the loop that
// vectorises; one clone per instruction set, chosen at load time
#define MMPANFPN_ACCUMULATE(T, NAME)                                        \
  __attribute__((target_clones("avx512f", "avx2", "default"))) void NAME( \
      T* __restrict acc, const T* __restrict r1, const T* __restrict r2,  \
      const T* __restrict r3, const T* __restrict r4, const T w1,         \
      const T w2, const T w3, const T w4, const int64_t channels) {       \
    for (int64_t c = 0; c < channels; c++) {                              \
      acc[c] += w1 * r1[c] + w2 * r2[c] + w3 * r3[c] + w4 * r4[c];        \
    }                                                                     \
  }
MMPANFPN_ACCUMULATE(float, accumulate_float)
MMPANFPN_ACCUMULATE(double, accumulate_double)
#undef MMPANFPN_ACCUMULATE

inline void accumulate(float* acc, const float* r1, const float* r2,
                       const float* r3, const float* r4, float w1, float w2,
                       float w3, float w4, int64_t channels) {
  accumulate_float(acc, r1, r2, r3, r4, w1, w2, w3, w4, channels);
}
inline void accumulate(double* acc, const double* r1, const double* r2,
                       const double* r3, const double* r4, double w1,
                       double w2, double w3, double w4, int64_t channels) {
  accumulate_double(acc, r1, r2, r3, r4, w1, w2, w3, w4, channels);
}

template <typename T>
void roi_align_rows(const T* rows, const T* rois, T* output, int64_t n_rois,
                    int64_t num_images, int64_t channels, int height,
                    int width,
                    int pooled_height, int pooled_width, T spatial_scale,
                    int sampling_ratio, bool aligned) {
  const int64_t bins = (int64_t)pooled_height * pooled_width;
  at::parallel_for(0, n_rois, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> acc(channels);
    std::vector<PreCalc<T>> pre_calc;
    for (int64_t n = begin; n < end; n++) {
      const RoIGrid<T> roi(rois + n * 5, n, num_images, spatial_scale,
                           pooled_height, pooled_width, sampling_ratio,
                           aligned);
      const int samples = roi.grid_h * roi.grid_w;
      const T count = std::max(samples, 1);
      // mmcv's pre-calculation: (ph, pw, iy, ix) order
      pre_calc.resize((size_t)samples * bins);
      int pre_calc_index = 0;
      for (int ph = 0; ph < pooled_height; ph++) {
        for (int pw = 0; pw < pooled_width; pw++) {
          for (int iy = 0; iy < roi.grid_h; iy++) {
            const T y = roi.y(ph, iy);
            for (int ix = 0; ix < roi.grid_w; ix++) {
              bilinear(height, width, y, roi.x(pw, ix),
                       pre_calc[pre_calc_index++]);
            }
          }
        }
      }

      const T* image = rows + (int64_t)roi.batch * height * width * channels;
      T* out = output + n * channels * bins;
      pre_calc_index = 0;
      for (int64_t bin = 0; bin < bins; bin++) {
        std::fill(acc.begin(), acc.end(), (T)0.);
        for (int s = 0; s < samples; s++) {
          const PreCalc<T>& pc = pre_calc[pre_calc_index++];
          accumulate(acc.data(), image + pc.pos1 * channels,
                     image + pc.pos2 * channels, image + pc.pos3 * channels,
                     image + pc.pos4 * channels, pc.w1, pc.w2, pc.w3, pc.w4,
                     channels);
        }
        for (int64_t c = 0; c < channels; c++) {
          out[c * bins + bin] = acc[c] / count;
        }
      }
    }
  });
}

at::Tensor roi_align_forward(const at::Tensor& input, const at::Tensor& rois,
                             int64_t pooled_height, int64_t pooled_width,
                             double spatial_scale, int64_t sampling_ratio,
                             bool aligned) {
  TORCH_CHECK(input.device().is_cpu() && rois.device().is_cpu(),
              "mmpanfpn::roi_align_forward: CPU tensors expected");
  TORCH_CHECK(input.dim() == 4, "roi_align_forward: input must be NCHW, got ",
              input.sizes());
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5,
              "roi_align_forward: rois must be (n, 5), got ", rois.sizes());
  TORCH_CHECK(rois.scalar_type() == input.scalar_type(),
              "roi_align_forward: rois and input dtypes differ");
  const int64_t channels = input.size(1);
  const int height = input.size(2);
  const int width = input.size(3);
  // channel rows; free for channels-last input
  at::Tensor rows = input.permute({0, 2, 3, 1}).contiguous();
  at::Tensor boxes = rois.contiguous();
  at::Tensor output = at::empty(
      {boxes.size(0), channels, pooled_height, pooled_width}, input.options());
  if (boxes.size(0) == 0) return output;
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "roi_align_forward", [&] {
    // mmcv passes spatial_scale to its kernel as a C float
    roi_align_rows<scalar_t>(
        rows.data_ptr<scalar_t>(), boxes.data_ptr<scalar_t>(),
        output.data_ptr<scalar_t>(), boxes.size(0), input.size(0), channels,
        height, width,
        pooled_height, pooled_width,
        static_cast<scalar_t>(static_cast<float>(spatial_scale)),
        sampling_ratio, aligned);
  });
  return output;
}

// ---------------------------------------------------------------- backward
//
// mmcv's ROIAlignBackward (average mode) walks the pooled gradient in
// (n, c, ph, pw) order, and for every sample (iy, ix) adds
// grad * w_k / count to the four corners k = 1..4 of channel c's plane.
// Contributions to one input element therefore arrive in the order
// (n, ph, pw, iy, ix, k) of its own channel. Here every channel block is one
// thread's, the gradient is accumulated as channel rows (NHWC) and the same
// (n, ph, pw, iy, ix, k) order is kept for every element, the channel loop
// innermost: the sums are mmcv's, term by term, and vectorise.

#define MMPANFPN_SCATTER(T, NAME)                                           \
  __attribute__((target_clones("avx512f", "avx2", "default"))) void NAME( \
      T* row, const T* grad, const T weight, const T count,              \
      const int64_t channels) {                                           \
    for (int64_t c = 0; c < channels; c++) {                              \
      row[c] += grad[c] * weight / count;                                 \
    }                                                                     \
  }
MMPANFPN_SCATTER(float, scatter_float)
MMPANFPN_SCATTER(double, scatter_double)
#undef MMPANFPN_SCATTER

inline void scatter(float* row, const float* grad, float weight, float count,
                    int64_t channels) {
  scatter_float(row, grad, weight, count, channels);
}
inline void scatter(double* row, const double* grad, double weight,
                    double count, int64_t channels) {
  scatter_double(row, grad, weight, count, channels);
}

template <typename T>
void roi_align_backward_rows(const T* grad_rows, const T* rois,
                             T* grad_input_rows, int64_t n_rois,
                             int64_t num_images, int64_t channels,
                             int height, int width,
                             int pooled_height, int pooled_width,
                             T spatial_scale, int sampling_ratio,
                             bool aligned) {
  // channel blocks of at least 16 (a cache line of floats)
  at::parallel_for(0, channels, 16, [&](int64_t c_begin, int64_t c_end) {
    const int64_t block = c_end - c_begin;
    PreCalc<T> pc;
    for (int64_t n = 0; n < n_rois; n++) {
      const RoIGrid<T> roi(rois + n * 5, n, num_images, spatial_scale,
                           pooled_height, pooled_width, sampling_ratio,
                           aligned);
      // mmcv's backward divides by the count without max(.., 1): with no
      // samples there is nothing to divide
      const T count = roi.grid_h * roi.grid_w;
      T* image = grad_input_rows +
                 (int64_t)roi.batch * height * width * channels + c_begin;
      for (int ph = 0; ph < pooled_height; ph++) {
        for (int pw = 0; pw < pooled_width; pw++) {
          const T* grad =
              grad_rows + ((n * pooled_height + ph) * pooled_width + pw) *
                              channels + c_begin;
          for (int iy = 0; iy < roi.grid_h; iy++) {
            const T y = roi.y(ph, iy);
            for (int ix = 0; ix < roi.grid_w; ix++) {
              if (!bilinear(height, width, y, roi.x(pw, ix), pc)) continue;
              // corners in mmcv's order, each over the whole channel block
              scatter(image + pc.pos1 * channels, grad, pc.w1, count, block);
              scatter(image + pc.pos2 * channels, grad, pc.w2, count, block);
              scatter(image + pc.pos3 * channels, grad, pc.w3, count, block);
              scatter(image + pc.pos4 * channels, grad, pc.w4, count, block);
            }
          }
        }
      }
    }
  });
}

at::Tensor roi_align_backward(const at::Tensor& grad_output,
                              const at::Tensor& rois, int64_t batch_size,
                              int64_t channels, int64_t height, int64_t width,
                              int64_t pooled_height, int64_t pooled_width,
                              double spatial_scale, int64_t sampling_ratio,
                              bool aligned) {
  TORCH_CHECK(grad_output.device().is_cpu() && rois.device().is_cpu(),
              "mmpanfpn::roi_align_backward: CPU tensors expected");
  TORCH_CHECK(grad_output.dim() == 4 && grad_output.size(1) == channels &&
                  grad_output.size(2) == pooled_height &&
                  grad_output.size(3) == pooled_width,
              "roi_align_backward: grad_output must be (n, C, ph, pw), got ",
              grad_output.sizes());
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5 &&
                  rois.size(0) == grad_output.size(0),
              "roi_align_backward: rois must be (n, 5), got ", rois.sizes());
  at::Tensor grad_rows = grad_output.permute({0, 2, 3, 1}).contiguous();
  at::Tensor boxes = rois.to(grad_output.scalar_type()).contiguous();
  at::Tensor grad_input_rows = at::zeros(
      {batch_size, height, width, channels}, grad_output.options());
  if (boxes.size(0) > 0) {
    AT_DISPATCH_FLOATING_TYPES(
        grad_output.scalar_type(), "roi_align_backward", [&] {
          roi_align_backward_rows<scalar_t>(
              grad_rows.data_ptr<scalar_t>(), boxes.data_ptr<scalar_t>(),
              grad_input_rows.data_ptr<scalar_t>(), boxes.size(0),
              batch_size, channels, height, width, pooled_height, pooled_width,
              static_cast<scalar_t>(static_cast<float>(spatial_scale)),
              sampling_ratio, aligned);
        });
  }
  // NCHW, as mmcv returns it
  return grad_input_rows.permute({0, 3, 1, 2}).contiguous();
}

}  // namespace

TORCH_LIBRARY(mmpanfpn, m) {
  m.def(
      "roi_align_forward(Tensor input, Tensor rois, int pooled_height, "
      "int pooled_width, float spatial_scale, int sampling_ratio, "
      "bool aligned) -> Tensor");
  m.def(
      "roi_align_backward(Tensor grad_output, Tensor rois, int batch_size, "
      "int channels, int height, int width, int pooled_height, "
      "int pooled_width, float spatial_scale, int sampling_ratio, "
      "bool aligned) -> Tensor");
}

TORCH_LIBRARY_IMPL(mmpanfpn, CPU, m) {
  m.impl("roi_align_forward", &roi_align_forward);
  m.impl("roi_align_backward", &roi_align_backward);
}

// an importable module whose loading registers the operator above
static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_ext", nullptr,
                                        -1, nullptr};
PyMODINIT_FUNC PyInit__ext(void) { return PyModule_Create(&module_def); }
