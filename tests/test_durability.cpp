// What survives what (README "What survives what"): a kill -9 in the middle of a checkpoint
// write, a full disk under every writer, a sweep restarted over an unreadable checkpoint, an
// output that is one of the command's inputs, leftovers of killed writers, read-only commands.
// Fault injection uses strace (inject=pwrite64:signal=KILL) and small tmpfs mounts; the tests
// that need them are skipped, with a message, where strace is missing or the suite is not root.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <sqlite3.h>

#include "io/checkpoint.h"
#include "io/durable_file.h"
#include "io/hdf5_util.h"
#include "sweep/ledger.h"
#include "sweep_test_util.h"

namespace dasnet {
namespace {

namespace fs = std::filesystem;
using sweep_testing::dasnet;
using sweep_testing::read_text;
using sweep_testing::scratch_dir;
using sweep_testing::write_text;

const char* kTrainSmall =
    "train --depth 2 --synthetic-per-class 32 --image-height 16 --image-width 16 --no-progress --threads 1";

bool have_strace() { return std::system("strace -V >/dev/null 2>&1") == 0; }

// Every regular file under `dir` whose name holds ".tmp." (a temporary left behind).
std::vector<std::string> temporaries_under(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) found.push_back(e.path().string());
  return found;
}

TEST(Durability, KillDuringCheckpointWriteLeavesNoCorruptCheckpoint) {
  if (!have_strace()) GTEST_SKIP() << "strace is not installed (scripts/apt-packages.txt lists it)";
  auto dir = scratch_dir("durable_kill");
  // A one-epoch training makes 9 pwrite64 calls, all of them the checkpoint's: kill at each.
  for (int when = 1; when <= 10; ++when) {
    fs::remove_all(dir + "/ck");
    const std::string strace = "strace -f -o /dev/null -e trace=pwrite64 -e inject=pwrite64:signal=KILL:when=" +
                               std::to_string(when) + " \"" + DASNET_BINARY + "\" ";
    const std::string command = "cd \"" + dir + "\" && " + strace + kTrainSmall +
                                " --epochs 1 --checkpoint-dir ck >/dev/null 2>&1";
    std::system(command.c_str());
    const std::string checkpoint = dir + "/ck/epoch_0001.h5";
    if (!fs::exists(checkpoint)) continue;  // killed before the rename: nothing under the final name
    EXPECT_NO_THROW(load_checkpoint(checkpoint)) << "kill at pwrite64 #" << when;
    auto eval = dasnet("eval --checkpoint ck/epoch_0001.h5 --synthetic-per-class 8 --threads 1", dir);
    EXPECT_EQ(eval.code, 0) << "kill at pwrite64 #" << when << ": " << eval.out;
  }
}

// What power loss needs from a writer, read off the system calls (strace -y names each fd's
// path): the temporary is fsynced before it is renamed to `final_name`, and its folder after, so
// that after a crash the final name holds either nothing or the whole file. `output` is as the
// command was given it, relative to `dir` (rename shows it so; fsync shows absolute paths).
void expect_synced_around_rename(const std::string& trace_path, const std::string& dir, const std::string& output) {
  std::ifstream trace(trace_path);
  std::vector<std::string> calls;
  for (std::string line; std::getline(trace, line);) calls.push_back(line);
  const std::string final_name = dir + "/" + output, temporary = final_name + ".tmp.";
  size_t rename_at = calls.size();
  for (size_t i = 0; i < calls.size(); ++i)
    if (calls[i].find("rename") != std::string::npos && calls[i].find("\"" + output + ".tmp.") != std::string::npos)
      rename_at = i;
  ASSERT_LT(rename_at, calls.size()) << "no rename of " << output << ".tmp.* in " << trace_path;
  const std::string folder = fs::path(final_name).parent_path().string();
  const auto is_fsync_of = [&](size_t i, const std::string& path) {
    return calls[i].find("fsync(") != std::string::npos && calls[i].find("</") != std::string::npos &&
           calls[i].find(path) != std::string::npos && calls[i].find("= -1") == std::string::npos;
  };
  bool file_synced_before = false, folder_synced_after = false;
  for (size_t i = 0; i < rename_at; ++i) file_synced_before |= is_fsync_of(i, temporary);
  for (size_t i = rename_at + 1; i < calls.size(); ++i) folder_synced_after |= is_fsync_of(i, folder + ">");
  EXPECT_TRUE(file_synced_before) << final_name << ": renamed before its temporary was fsynced";
  EXPECT_TRUE(folder_synced_after) << final_name << ": its folder " << folder << " not fsynced after the rename";
}

TEST(Durability, EveryFileIsSyncedBeforeItsRenameAndItsFolderAfter) {
  if (!have_strace()) GTEST_SKIP() << "strace is not installed (scripts/apt-packages.txt lists it)";
  const std::string dir = fs::canonical(scratch_dir("durable_sync_order")).string();
  const std::string strace = "strace -f -y -o trace.txt -e trace=fsync,rename,renameat,renameat2 \"" +
                             std::string(DASNET_BINARY) + "\" ";
  const std::vector<std::pair<std::string, std::string>> writers = {
      {"synth --channels 60 --duration 20 --vehicles 3 --seed 4 -q -o out/rec.h5", "out/rec.h5"},
      {"dataset build out/rec.h5 --per-class 10 --patch-channels 20 --patch-samples 200 -q -o out/set.h5",
       "out/set.h5"},
      {"dataset reference -o out/references.h5 --patch-channels 16 --patch-samples 16", "out/references.h5"},
      {std::string(kTrainSmall) + " --epochs 1 --checkpoint-dir out/ck", "out/ck/epoch_0001.h5"},
      {"infer out/ck/epoch_0001.h5 out/rec.h5 -o out/maps --no-png --no-progress --threads 1", "out/maps/rec.pmap.h5"},
  };
  fs::create_directories(dir + "/out");
  for (const auto& [args, output] : writers) {
    const std::string command = "cd \"" + dir + "\" && " + strace + args + " >log.txt 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command << "\n" << read_text(dir + "/log.txt");
    expect_synced_around_rename(dir + "/trace.txt", dir, output);
  }
}

// The ledger as a node lost mid-trial leaves it: trial `id` running under a process of this
// host that has exited (the next driver requeues it).
void mark_owner_lost(const std::string& ledger_path, int64_t id) {
  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(ledger_path.c_str(), &db), SQLITE_OK);
  const std::string sql = "UPDATE trials SET state = 'running', owner_pid = " + std::to_string(gone) +
                          ", host = '" + host_name() + "' WHERE id = " + std::to_string(id);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST(Durability, SweepResumesFromTheLastCheckpointThatLoads) {
  auto dir = scratch_dir("durable_sweep");
  write_text(dir + "/spec.toml", R"(
[space]
depth = [2]
lr = [0.02]
batch_size = [32]
images_per_class = [64]
epochs = [2]
[data]
image_height = 16
image_width = 16
[run]
threads = 1
)");
  ASSERT_EQ(dasnet("sweep run spec.toml --ledger l.db --no-progress", dir).code, 0);
  int64_t id = 0;
  std::string final_checkpoint;
  {
    Ledger ledger(dir + "/l.db");
    ASSERT_EQ(ledger.counts().complete, 1);
    const TrialRow trial = ledger.trials().at(0);
    id = trial.id;
    final_checkpoint = trial.run_dir + "/checkpoints/epoch_0002.h5";
    // The node died while the final checkpoint was written, after its metrics line: the file
    // under the final name is cut short, and the trial is back in the queue.
    ASSERT_TRUE(checkpoint_is_readable(final_checkpoint));
    fs::resize_file(final_checkpoint, fs::file_size(final_checkpoint) / 2);
  }
  mark_owner_lost(dir + "/l.db", id);
  auto again = dasnet("sweep run spec.toml --ledger l.db --no-progress", dir);
  ASSERT_EQ(again.code, 0) << again.out;
  Ledger ledger(dir + "/l.db");
  ASSERT_EQ(ledger.trial(id)->state, TrialState::complete);
  // Not called complete over the unreadable file: epoch 2 was trained again from epoch 1's.
  EXPECT_TRUE(checkpoint_is_readable(final_checkpoint));
  EXPECT_NE(read_text(ledger.trial(id)->run_dir + "/train.log").find("resuming after epoch 1"), std::string::npos);
}

// A tmpfs of `size` mounted on `dir` for the life of the object: a disk that fills up. Needs
// root (mount); mounted() says whether it is there.
class SmallDisk {
 public:
  SmallDisk(const std::string& dir, const std::string& size) : dir_(dir) {
    fs::create_directories(dir);
    if (geteuid() == 0)
      mounted_ = std::system(("mount -t tmpfs -o size=" + size + " tmpfs \"" + dir + "\" 2>/dev/null").c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_ && std::system(("umount \"" + dir_ + "\"").c_str()) != 0) ADD_FAILURE() << "cannot unmount " << dir_;
  }
  bool mounted() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

#define REQUIRE_SMALL_DISK(disk)                                                                     \
  if (!(disk).mounted()) GTEST_SKIP() << "full-disk test skipped: needs root to mount a small tmpfs" \
                                      << " (running as uid " << geteuid() << ")"

// A full disk: exit 1 (not a crash in HDF5's exit handler), a message naming the file, and
// nothing under the final name.
void expect_clean_disk_full_failure(const sweep_testing::Run& r, const std::string& final_path,
                                    const std::string& disk) {
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(final_path), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no space left"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(final_path)) << final_path;
  EXPECT_TRUE(temporaries_under(disk).empty());
}

TEST(Durability, FullDiskSynth) {
  auto dir = scratch_dir("durable_full_synth");
  SmallDisk disk(dir + "/disk", "256k");
  REQUIRE_SMALL_DISK(disk);
  auto r = dasnet("synth --channels 64 --duration 20 -q -o disk/rec.h5", dir);
  expect_clean_disk_full_failure(r, "disk/rec.h5", dir + "/disk");
}

TEST(Durability, FullDiskDatasetBuild) {
  auto dir = scratch_dir("durable_full_dataset");
  ASSERT_EQ(dasnet("synth --channels 60 --duration 20 --vehicles 3 --seed 4 -q -o rec.h5", dir).code, 0);
  SmallDisk disk(dir + "/disk", "64k");  // the data set is about 120 kB
  REQUIRE_SMALL_DISK(disk);
  auto r = dasnet("dataset build rec.h5 --per-class 10 --patch-channels 20 --patch-samples 200 -q -o disk/ds.h5", dir);
  expect_clean_disk_full_failure(r, "disk/ds.h5", dir + "/disk");
}

TEST(Durability, FullDiskTrainCheckpoints) {
  auto dir = scratch_dir("durable_full_train");
  SmallDisk disk(dir + "/disk", "24k");  // about two 11 kB checkpoints of this model
  REQUIRE_SMALL_DISK(disk);
  auto r = dasnet(std::string(kTrainSmall) + " --width 32 --epochs 6 --checkpoint-dir disk/ck", dir);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("no space left"), std::string::npos) << r.out;
  EXPECT_TRUE(temporaries_under(dir + "/disk").empty());
  int kept = 0;
  for (const auto& e : fs::directory_iterator(dir + "/disk/ck")) {
    EXPECT_TRUE(checkpoint_is_readable(e.path().string())) << e.path();  // each one whole
    ++kept;
  }
  EXPECT_LT(kept, 6);
  EXPECT_NE(r.out.find("disk/ck/epoch_000" + std::to_string(kept + 1) + ".h5"), std::string::npos) << r.out;
}

// Replaces /val/images of a data set file with zero images of C x H x W (labels kept).
void reshape_validation_images(const std::string& path, hsize_t c, hsize_t h, hsize_t w) {
  h5::silence_errors();
  h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
  ASSERT_TRUE(file.valid());
  hsize_t n = 0;
  {
    h5::Handle old(H5Dopen2(file, "val/images", H5P_DEFAULT));
    h5::Handle space(H5Dget_space(old));
    hsize_t dims[4];
    ASSERT_EQ(H5Sget_simple_extent_dims(space, dims, nullptr), 4);
    n = dims[0];
  }
  ASSERT_GE(H5Ldelete(file, "val/images", H5P_DEFAULT), 0);
  h5::Handle group(H5Gopen2(file, "val", H5P_DEFAULT));
  h5::Handle images = h5::create_dataset(group, "images", H5T_STD_U8LE, {n, c, h, w});
  std::vector<uint8_t> zeros(n * c * h * w, 0);
  h5::write_box(images, H5T_NATIVE_UINT8, zeros.data(), {0, 0, 0, 0}, {n, c, h, w});
}

TEST(TrainSplits, ValidationSplitOfAnotherShapeIsRefusedNamingFileAndSplit) {
  auto dir = scratch_dir("train_splits");
  ASSERT_EQ(dasnet("synth --channels 60 --duration 20 --vehicles 3 --seed 4 -q -o rec.h5", dir).code, 0);
  ASSERT_EQ(dasnet("dataset build rec.h5 --per-class 10 --patch-channels 20 --patch-samples 200 -q -o ds.h5", dir).code, 0);
  struct Case {
    std::string name;
    hsize_t c, h, w;
  };
  for (const Case& k : {Case{"smaller", 1, 10, 100}, Case{"three-channel", 3, 20, 200}, Case{"larger", 1, 40, 400}}) {
    fs::copy_file(dir + "/ds.h5", dir + "/" + k.name + ".h5");
    reshape_validation_images(dir + "/" + k.name + ".h5", k.c, k.h, k.w);
    auto r = dasnet("train --data " + k.name + ".h5 --depth 2 --epochs 1 --batch-size 8 --no-progress --threads 1", dir);
    EXPECT_EQ(r.code, 1) << k.name << ": " << r.out;
    EXPECT_NE(r.out.find(k.name + ".h5: split 'val': images are"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("the model takes 1 x 20 x 200"), std::string::npos) << r.out;
  }
}

TEST(OutputNotInput, CommandsRefuseToWriteOverTheirInputsByNameLinkOrHardLink) {
  auto dir = scratch_dir("output_not_input");
  ASSERT_EQ(dasnet("synth --channels 60 --duration 20 --vehicles 3 --seed 4 -q -o rec.h5", dir).code, 0);
  fs::create_symlink("rec.h5", dir + "/link.h5");
  fs::create_hard_link(dir + "/rec.h5", dir + "/hard.h5");
  const auto size = fs::file_size(dir + "/rec.h5");
  for (const std::string output : {"rec.h5", "link.h5", "hard.h5", "./rec.h5"}) {
    auto r = dasnet("dataset build rec.h5 --per-class 10 --patch-channels 20 --patch-samples 200 -q -o " + output, dir);
    EXPECT_EQ(r.code, 2) << output << ": " << r.out;
    EXPECT_NE(r.out.find("--output " + output + " is the input rec.h5"), std::string::npos) << r.out;
    EXPECT_EQ(fs::file_size(dir + "/rec.h5"), size) << output;
  }
  EXPECT_EQ(dasnet("inspect rec.h5", dir).code, 0);  // still the record it was
  // The same helper guards the other commands' outputs.
  ASSERT_EQ(dasnet("dataset build rec.h5 --per-class 10 --patch-channels 20 --patch-samples 200 -q -o ds.h5", dir).code, 0);
  auto train = dasnet("train --data ds.h5 --depth 2 --epochs 1 --no-progress --threads 1 --metrics ds.h5", dir);
  EXPECT_EQ(train.code, 2) << train.out;
  EXPECT_NE(train.out.find("--metrics ds.h5 is the input ds.h5"), std::string::npos) << train.out;
  auto label = dasnet("label rec.h5 -q --csv hard.h5", dir);
  EXPECT_EQ(label.code, 2) << label.out;
  EXPECT_EQ(dasnet("dataset info ds.h5", dir).code, 0);
  EXPECT_EQ(fs::file_size(dir + "/rec.h5"), size);
}

std::string this_host() {
  char name[256] = {0};
  gethostname(name, sizeof name - 1);
  return name;
}

pid_t pid_of_an_ended_process() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  return child;
}

const char* kOneTrialSpec = R"(
[space]
depth = [2]
lr = [0.02]
images_per_class = [32]
epochs = [1]
[data]
image_height = 16
image_width = 16
[run]
threads = 1
)";

TEST(Leftovers, TemporariesOfKilledWritersAreRemovedWhenTrainingStarts) {
  auto dir = scratch_dir("leftovers_tmp");
  fs::create_directories(dir + "/ck");
  const std::string dead = "ck/epoch_0001.h5.tmp." + this_host() + "." + std::to_string(pid_of_an_ended_process());
  const std::string alive = "ck/epoch_0002.h5.tmp." + this_host() + "." + std::to_string(getpid());
  const std::string elsewhere = "ck/epoch_0003.h5.tmp.another-node." + std::to_string(pid_of_an_ended_process());
  for (const auto& f : {dead, alive, elsewhere}) write_text(dir + "/" + f, "half a checkpoint");
  auto r = dasnet(std::string(kTrainSmall) + " --epochs 1 --checkpoint-dir ck", dir);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(fs::exists(dir + "/" + dead)) << r.out;
  EXPECT_NE(r.out.find("removed " + dead), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir + "/" + alive));      // its writer may still finish it
  EXPECT_TRUE(fs::exists(dir + "/" + elsewhere));  // a pid of another host says nothing here
  EXPECT_TRUE(checkpoint_is_readable(dir + "/ck/epoch_0001.h5"));
}

TEST(Leftovers, TemporariesOfKilledWritersAreRemovedFromSweepRunFolders) {
  auto dir = scratch_dir("leftovers_sweep_tmp");
  write_text(dir + "/spec.toml", kOneTrialSpec);
  const std::string run_dir = "l.db.runs/trial_00001";
  fs::create_directories(dir + "/" + run_dir);
  const std::string dead = run_dir + "/metrics.jsonl.tmp." + this_host() + "." + std::to_string(pid_of_an_ended_process());
  write_text(dir + "/" + dead, "{\"epoch\": 1");
  auto r = dasnet("sweep run spec.toml --ledger l.db --no-progress", dir);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(fs::exists(dir + "/" + dead)) << r.out;
  EXPECT_TRUE(temporaries_under(dir + "/l.db.runs").empty());
}

TEST(Leftovers, ReadOnlyCommandsCreateNoFiles) {
  auto dir = scratch_dir("leftovers_readonly");
  auto status = dasnet("sweep status --ledger typo.db", dir);
  EXPECT_EQ(status.code, 1) << status.out;
  EXPECT_NE(status.out.find("typo.db: no such file"), std::string::npos) << status.out;
  for (const char* command : {"sweep worker --ledger typo.db", "select --ledger typo.db --all",
                              "report --ledger typo.db -o out"}) {
    auto r = dasnet(command, dir);
    EXPECT_TRUE(r.code == 1 || r.code == 2) << command << ": " << r.out;  // 2: CLI11's ExistingFile check
    EXPECT_NE(r.out.find("typo.db"), std::string::npos) << command << ": " << r.out;
  }
  EXPECT_FALSE(fs::exists(dir + "/typo.db"));
  // On an existing ledger, status, select and report read it and change nothing.
  write_text(dir + "/spec.toml", kOneTrialSpec);
  ASSERT_EQ(dasnet("sweep run spec.toml --ledger l.db --no-progress", dir).code, 0);
  // Every file of the folder but SQLite's own WAL side files (l.db-wal, l.db-shm), which any
  // reader of a WAL-mode database may create and which hold no data of a reader.
  auto listing = [&] {
    std::map<std::string, std::uintmax_t> files;
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (e.is_regular_file() && name != "l.db-wal" && name != "l.db-shm" && name != "command_output.txt")
        files[name] = e.file_size();
    }
    return files;
  };
  const auto before = listing();
  const auto mtime = fs::last_write_time(dir + "/l.db");
  EXPECT_EQ(dasnet("sweep status --ledger l.db", dir).code, 0);
  EXPECT_EQ(dasnet("select --ledger l.db --all", dir).code, 0);
  EXPECT_EQ(listing(), before);
  EXPECT_EQ(fs::last_write_time(dir + "/l.db"), mtime);
  // A file that is not a ledger is refused, not turned into one.
  write_text(dir + "/notes.txt", "not a ledger");
  auto wrong = dasnet("sweep status --ledger notes.txt", dir);
  EXPECT_EQ(wrong.code, 1) << wrong.out;
  EXPECT_NE(wrong.out.find("notes.txt"), std::string::npos) << wrong.out;
  EXPECT_EQ(read_text(dir + "/notes.txt"), "not a ledger");
}

}  // namespace
}  // namespace dasnet
