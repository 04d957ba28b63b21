#include "core/tensor.h"

#include <gtest/gtest.h>

namespace swiftkv {
namespace {

TEST(Tensor, ViewsShareStorage) {
  Tensor t = Tensor::from_f32({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor middle = t.rows(1, 2);
  EXPECT_EQ(middle.shape(), (Shape{1, 2}));
  EXPECT_EQ(middle.data<float>()[0], 3.0F);
  middle.data<float>()[1] = 40.0F;
  EXPECT_EQ(t.data<float>()[3], 40.0F);
  EXPECT_EQ(t.reshape({6}).dim(-1), 6);
}

TEST(Tensor, RejectsBadViews) {
  Tensor t = Tensor::zeros({3, 2}, DType::kF32);
  EXPECT_THROW(t.rows(2, 4), InternalError);
  EXPECT_THROW(t.reshape({4}), InternalError);
  EXPECT_THROW((void)t.dim(2), InternalError);
}

TEST(Tensor, ConvertsDtypes) {
  Tensor t = Tensor::from_f32({3}, {1.0F, -0.5F, 3.0F});
  Tensor back = t.to_dtype(DType::kBF16).to_f32();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(back.data<float>()[i], t.data<float>()[i]);
  }
  EXPECT_EQ(t.to_dtype(DType::kF16).nbytes(), 6U);
}

}  // namespace
}  // namespace swiftkv
