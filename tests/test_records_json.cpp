// 16.5: the records' JSON, declared once (train/records_json.h, sweep/records_json.h), reads
// the text the field-by-field code wrote before and writes it back with the same keys.
#include <gtest/gtest.h>

#include "sweep/records_json.h"
#include "train/records_json.h"

namespace dasnet {
namespace {

// Strings as written by the former ModelConfig/TrainConfig/EpochMetrics/TrialConfig::to_json.
const char* kOldModel =
    R"({"block":"bottleneck","bottleneck_width":4,"depth":11,"fuse":false,"height":16,"image_width":24,)"
    R"("in_channels":3,"mode":"sigmoid","outputs":1,"width":8})";
const char* kOldTrain =
    R"({"batch_size":32,"epochs":3,"gamma":0.5,"lr":0.25,"lr_scaling":"linear","momentum":0.875,)"
    R"("nesterov":true,"schedule":"step","seed":7,"step_size":2,"warmup_epochs":1,"weight_decay":0.0})";
const char* kOldMetrics =
    R"({"epoch":2,"epoch_seconds":1.5,"epochs":3,"lr":0.25,"p_usable":{"saturated":0.25,"white_noise":0.5},)"
    R"("peak_memory_mb":12.0,"ranks":2,"samples_per_s":100.0,"skipped_steps":1,"train_accuracy":0.75,)"
    R"("train_loss":0.5,"train_samples":64,"val_accuracy":0.625,"val_loss":0.75,"val_samples":16})";
// What they are written as now: the same text with the fields added since, at their defaults
// (bn_recalibrate, 2026-12: precise batchnorm off). The key order is nlohmann's (sorted), as in
// the records' own to_json.
std::string with_field_added(const char* old_text, const std::string& key, int value) {
  nlohmann::json record = nlohmann::json::parse(old_text);
  record[key] = value;
  return record.dump();
}
const std::string kOldTrainWritten = with_field_added(kOldTrain, "bn_recalibrate", 0);
const std::string kOldMetricsWritten = with_field_added(kOldMetrics, "bn_recalibrate", 0);
const char* kOldTrial =
    R"({"batch_size":64,"block":"basic","bottleneck_width":0,"channels":3,"depth":20,"epochs":5,)"
    R"("images_per_class":100,"lr":0.01,"outputs":2,"processor":"gpu","ranks":2,"seed":3})";

TEST(RecordsJson, OldModelConfigReadsAndWritesTheSameText) {
  ModelConfig m = ModelConfig::from_json(kOldModel);
  EXPECT_EQ(m.block, BlockType::Bottleneck);
  EXPECT_EQ(m.depth, 11);
  EXPECT_EQ(m.in_channels, 3);
  EXPECT_EQ(m.mode, OutputMode::Sigmoid);
  EXPECT_FALSE(m.fuse);
  EXPECT_EQ(m.to_json(), kOldModel);
  // A checkpoint written before "fuse" existed still reads, with the default.
  EXPECT_TRUE(ModelConfig::from_json(R"({"block":"basic","bottleneck_width":0,"depth":8,"height":16,)"
                                     R"("image_width":16,"in_channels":1,"mode":"softmax","outputs":2,"width":4})")
                  .fuse);
}

TEST(RecordsJson, OldTrainConfigReadsAndWritesTheSameTextPlusNewDefaults) {
  TrainConfig t = TrainConfig::from_json(kOldTrain);
  EXPECT_EQ(t.epochs, 3);
  EXPECT_EQ(t.seed, 7u);
  EXPECT_TRUE(t.linear_lr_scaling);
  EXPECT_EQ(t.optimizer.schedule, Schedule::Step);
  EXPECT_TRUE(t.optimizer.nesterov);
  EXPECT_EQ(t.optimizer.momentum, 0.875f);
  EXPECT_EQ(t.bn_recalibrate, 0);
  EXPECT_EQ(t.to_json(), kOldTrainWritten);
}

TEST(RecordsJson, OldMetricsLineReadsAndWritesTheSameTextPlusNewDefaults) {
  auto m = nlohmann::json::parse(kOldMetrics).get<EpochMetrics>();
  EXPECT_EQ(m.epoch, 2);
  EXPECT_EQ(m.train_samples, 64);
  ASSERT_EQ(m.p_usable.size(), 2u);
  EXPECT_EQ(m.p_usable[1].first, "white_noise");
  EXPECT_EQ(m.p_usable[1].second, 0.5);
  EXPECT_EQ(m.bn_recalibrate, 0);
  EXPECT_EQ(m.to_json(), kOldMetricsWritten);
}

TEST(RecordsJson, OldTrialConfigReadsAndWritesTheSameText) {
  TrialConfig c = TrialConfig::from_json(kOldTrial);
  EXPECT_EQ(c.processor, "gpu");
  EXPECT_EQ(c.channels, 3);
  EXPECT_EQ(c.to_json(), kOldTrial);
}

TEST(RecordsJson, BadValuesAreErrorsNamingTheField) {
  try {
    TrialConfig::from_json(R"({"ranks":"two"})");
    FAIL() << "accepted a string rank count";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/ranks"), std::string::npos) << e.what();
  }
  // An unknown enum name is an error, not silently the first value.
  EXPECT_ANY_THROW(ModelConfig::from_json(R"({"block":"wide"})"));
  EXPECT_ANY_THROW(TrainConfig::from_json(R"({"schedule":"exponential"})"));
  EXPECT_ANY_THROW(TrainConfig::from_json(R"({"lr_scaling":"square"})"));
}

TEST(RecordsJson, EpochRowWrapsTheMetricsRecord) {
  EpochRow row;
  row.trial_id = 4;
  row.metrics = nlohmann::json::parse(kOldMetrics).get<EpochMetrics>();
  row.checkpoint = "run/epoch_0002.h5";
  auto back = nlohmann::json(row).get<EpochRow>();
  EXPECT_EQ(back.trial_id, 4);
  EXPECT_EQ(back.checkpoint, row.checkpoint);
  EXPECT_EQ(back.metrics.to_json(), kOldMetricsWritten);
}

}  // namespace
}  // namespace dasnet
