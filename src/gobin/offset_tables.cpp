// gotrace's runtime struct offsets per Go release, for binaries without DWARF.
//
// Every row was measured from the DWARF of a test program built by that
// release's toolchain (go1.17.13, go1.18.10, go1.19.8, go1.20.14, go1.21.13,
// go1.22.12, go1.23.12, go1.24.13, go1.25.14, go1.26.x, go1.27.3) for both GOARCH=amd64
// and GOARCH=arm64, whose g/m/gobuf/stack/sudog/pollDesc layouts are identical, and
// checked against the struct definitions in that release's
// src/runtime/runtime2.go. The unit tests compare the rows with the DWARF of
// every fixture binary.
#include "offset_tables.h"

namespace gotrace::detail {

namespace {

constexpr int64_t kAbsent = -1;

// The fields whose offsets move between releases; the others are constant.
struct Moving {
  int64_t sched_bp;      // g.sched + gobuf.bp (gobuf.ret removed in 1.25)
  int64_t atomicstatus;  // g.atomicstatus
  int64_t goid;          // g.goid
  int64_t waitsince;     // g.waitsince
  int64_t waitreason;    // g.waitreason
  int64_t parent_goid;   // g.parentGoid (1.21+)
  int64_t gopc;          // g.gopc
  int64_t startpc;       // g.startpc
  int64_t labels;        // g.labels
  int64_t m_procid;      // m.procid
  int64_t m_curg;        // m.curg
  int64_t m_id;          // m.id
  int64_t schedlink;     // g.schedlink
  int64_t pd_rg;         // pollDesc.rg (pollDesc.wg follows it)
  int64_t syscallsp;     // g.syscallsp (g.syscallpc follows it)
  int64_t syscallbp;     // g.syscallbp (1.23+)
  int64_t lockedm;       // g.lockedm
};

// 1.17 – 1.20: g has sysblocktraced/sysexitticks/traceseq/tracelastp, no parentGoid.
constexpr Moving kGo117 = {104, 144, 152, 168, 176, kAbsent, 296,     312, 360,
                           72,  192, 232, 160, 24,  112,     kAbsent, 232};
// 1.21 – 1.22: tracer state moved into g.trace; parentGoid added before gopc;
// pollDesc gained fdseq before rg.
constexpr Moving kGo121 = {104, 144, 152, 168, 176, 272, 280,     296, 344,
                           72,  192, 232, 160, 32,  112, kAbsent, 208};
// 1.23 – 1.24: syscallbp inserted after syscallpc (+8 from stktopsp on).
constexpr Moving kGo123 = {104, 152, 160, 176, 184, 280, 288, 304, 352, 72, 192, 232, 168, 32, 112, 128, 216};
// 1.25: gobuf.ret removed (sched 56 -> 48 bytes, -8 after it; m.morebuf too).
constexpr Moving kGo125 = {96, 144, 152, 168, 176, 272, 280, 296, 344, 64, 184, 224, 160, 32, 104, 120, 208};
// 1.26: fipsOnlyBypass/ditWanted/secret before writebuf (+8 from parentGoid);
// m.signalSecret moves m.p/m.id back by +8.
constexpr Moving kGo126 = {96, 144, 152, 168, 176, 280, 288, 304, 352, 64, 184, 232, 160, 32, 104, 120, 208};

OffsetRow make_row(const Moving& v) {
  OffsetRow row{};
  auto set = [&row](RtField f, int64_t value) { row[static_cast<size_t>(f)] = value; };
  set(RtField::GStackLo, 0);  // g.stack (0) + stack.lo (0)
  set(RtField::GStackHi, 8);  // g.stack (0) + stack.hi (8)
  set(RtField::GStackguard0, 16);
  set(RtField::GM, 48);
  set(RtField::GSchedSp, 56);  // g.sched (56) + gobuf.sp (0)
  set(RtField::GSchedPc, 64);  // g.sched (56) + gobuf.pc (8)
  set(RtField::GSchedBp, v.sched_bp);
  set(RtField::GAtomicstatus, v.atomicstatus);
  set(RtField::GGoid, v.goid);
  set(RtField::GWaitsince, v.waitsince);
  set(RtField::GWaitreason, v.waitreason);
  set(RtField::GParentGoid, v.parent_goid);
  set(RtField::GGopc, v.gopc);
  set(RtField::GStartpc, v.startpc);
  set(RtField::GLabels, v.labels);
  set(RtField::MG0, 0);
  set(RtField::MProcid, v.m_procid);
  set(RtField::MCurg, v.m_curg);
  set(RtField::MId, v.m_id);
  set(RtField::SudogG, 0);
  set(RtField::GSchedlink, v.schedlink);
  set(RtField::PollDescRg, v.pd_rg);
  set(RtField::PollDescWg, v.pd_rg + 8);
  set(RtField::GSyscallsp, v.syscallsp);
  set(RtField::GSyscallpc, v.syscallsp + 8);
  set(RtField::GSyscallbp, v.syscallbp);
  set(RtField::GLockedm, v.lockedm);
  return row;
}

// g.tracking, then the stamp and runnableTime (int64s after trackingSeq):
// they move on their own (1.21 packs tracking after a smaller field than 1.22).
struct Tracking {
  int64_t tracking, stamp;
};
std::optional<Tracking> tracking_of(int minor) {
  if (minor <= 20) return Tracking{188, 192};  // 1.17-1.19 name the stamp runnableStamp
  if (minor == 21) return Tracking{187, 192};
  if (minor == 22) return Tracking{190, 192};
  if (minor <= 24) return Tracking{198, 200};
  return Tracking{190, 192};  // 1.25-1.27
}

std::optional<OffsetRow> row_of(int minor) {
  switch (minor) {
    case 17:
    case 18:
    case 19:
    case 20:
      return make_row(kGo117);
    case 21:
    case 22:
      return make_row(kGo121);
    case 23:
    case 24:
      return make_row(kGo123);
    case 25:
      return make_row(kGo125);
    case 26:
    case 27:  // 1.27: no g, m (signalSecret uint32 -> bool keeps m.p), sudog or pollDesc change
      return make_row(kGo126);
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<OffsetRow> offset_table_row(int minor) {
  auto row = row_of(minor);
  if (!row) return row;
  if (auto t = tracking_of(minor)) {
    (*row)[static_cast<size_t>(RtField::GTracking)] = t->tracking;
    (*row)[static_cast<size_t>(RtField::GTrackingStamp)] = t->stamp;
    (*row)[static_cast<size_t>(RtField::GRunnableTime)] = t->stamp + 8;
  }
  return row;
}

}  // namespace gotrace::detail
