"""The ``geometric`` VQA backend: decides facts from the RGB-D pixels of one frame.

No simulator state is read: the objects are coloured cubes (the scene gives each
object's RGBA and edge length), each is found by its colour, its pixels are lifted to 3-D
with the depth image, the intrinsics and the camera pose, and the object's centre is
recovered from the faces the camera sees. Facts are then decided with the same tolerances
the simulator's ground truth uses (``robot_planner/sim/truth.py``), plus proprioception
(tool point and finger opening) for what a robot holds (the ``gripped`` and
``gripper_free`` relations), which a camera alone cannot see inside a closed hand.

Why the centre needs the faces: a slanted camera sees a box's top and one or two of its
sides, and the bottom box of a stack only its sides. Every visible surface point lies
half an edge from the centre along that face's outward normal, so each pixel, with a
normal from the depth image, votes for the centre; the median of those votes is right
whichever faces are visible, and is only shifted (not wrong by half an edge) when an arm
covers part of the object.

One frame is segmented once: questions about the same observation reuse a small cache.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from robot_planner.monitor.base import VqaAnswer
from robot_planner.world.facts import Fact, FactError
from robot_planner.world.observation import BaseState, CameraFrame, GripperState, Observation
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GeometricConfig:
    """Colour thresholds, fact tolerances (metres, or multiples of the object's edge ``s``)
    and confidence scales. Fact tolerances mirror ``robot_planner.sim.truth`` where a
    camera can check them (see ``on_height`` for the one that differs)."""

    #: Hue distance (OpenCV units, 0-180) from an object's reference hue.
    hue_tolerance: int = 7
    #: Minimum saturation as a fraction of the object's reference saturation.
    min_saturation_ratio: float = 0.5
    #: Minimum value (0-255): faces turned away from the light are darker, not black.
    min_value: int = 25
    #: Colours less saturated than this (0-1) cannot be told from the arms and table.
    min_object_saturation: float = 0.35
    #: Where pixel (row r, column c) lies in the coordinates of ``K``: u = c + du,
    #: v = r + dv. Measured on TinyRenderer frames from ``robot_planner.sim.camera``
    #: (sub-millimetre centres with (0, 1)); a camera whose K follows OpenCV's
    #: convention (pixel centres at integers) needs (0, 0).
    pixel_offset: tuple[float, float] = (0.0, 1.0)
    #: Smallest component kept, in pixels of a 320x240 frame (scaled with the area).
    min_pixels: int = 6
    #: Side of the square kernel of the morphological opening (odd; 1 disables it).
    open_kernel: int = 3
    #: Two normals estimated forward and backward must agree within this angle (deg):
    #: pixels on a crease between two faces are left out of the centre votes.
    normal_agreement_deg: float = 12.0
    #: A pixel bordering an object's outline that is this much nearer the camera (m)
    #: belongs to an occluder: that stretch of outline is not the object's own edge.
    occlusion_gap: float = 0.005
    #: Components of one colour within this many object edges of the largest belong to
    #: the same object (a finger in front of an object splits it in two).
    merge_distance: float = 1.5
    #: holding: the object's centre within this distance of the tool point (m) ...
    hold_radius: float = 0.035
    #: ... and the finger opening between s - below and s + above (m).
    hold_width_below: float = 0.012
    hold_width_above: float = 0.004
    #: on(X,Y): rise of X over Y in s, and horizontal offset in Y's edge. Tighter than
    #: the simulator's 0.6-1.4 s, which also asks for contact: a camera cannot see
    #: contact, and an object released 1 cm above another is not on it yet.
    on_height: tuple[float, float] = (0.8, 1.2)
    on_offset: float = 0.7
    #: in(X,B): inside the inner rectangle plus this margin (m), below the rim + 1.5 s.
    bin_margin: float = 0.01
    bin_wall_height: float = 0.06
    bin_above_rim: float = 1.5
    #: on_table(X): bottom within this distance of the table top (m), tilt below this.
    table_gap: float = 0.01
    #: parked: a base's centre within this distance (m) and heading (degrees) of a bay,
    #: as the simulator's ground truth; odometry is trusted to about `odometry_sigma` m.
    bay_tolerance: float = 0.10
    bay_yaw_tolerance_deg: float = 10.0
    odometry_sigma: float = 0.02
    max_tilt_deg: float = 20.0
    #: at(X,Z): centre less than this above the table (m).
    at_max_height: float = 0.3
    #: at(X,Z) for an object in no place: its centre within this fraction of its size
    #: past the nearest zone's edge (its footprint still reaches into the zone).
    zone_overlap: float = 0.5
    #: Position noise floor (m) that turns a decision margin into a confidence.
    min_sigma: float = 0.003
    #: Finger opening noise (m), for decisions made from proprioception.
    width_sigma: float = 0.002
    #: Confidence of clear(X) when some other object is out of sight (could be on X).
    unseen_clear_confidence: float = 0.6
    #: Confidence of holding(R,X) when X is hidden (by R's hand) but R's fingers stopped
    #: at X's width and every other object is seen elsewhere.
    unseen_hold_confidence: float = 0.65
    #: Visibility credited to an object inferred to stand hidden under another (scales
    #: its confidences down, see `_quality`).
    beneath_visibility: float = 0.1
    #: Frames (and observations) whose perception is kept.
    cache_size: int = 4

    def __post_init__(self) -> None:
        if not 0 <= self.hue_tolerance < 90:
            raise ValueError("hue_tolerance must be in [0, 90)")
        if self.open_kernel < 1 or self.open_kernel % 2 == 0:
            raise ValueError("open_kernel must be a positive odd number")
        if self.cache_size < 1:
            raise ValueError("cache_size must be at least 1")


@dataclass(frozen=True)
class ObjectSighting:
    """One object as seen in one frame.

    ``center`` is the estimated cube centre in the world frame (None when the object was
    not found), ``pixels`` its visible pixel count, ``visible`` the fraction of the
    pixels an unoccluded object would cover there (0-1), ``tilt`` the angle (radians) of
    its most upward face normal from vertical (None when no upward face is seen) and
    ``sigma`` / ``sigma_z`` the horizontal / vertical position noise (m) used for
    confidences: one pixel's footprint, more when an occluder hides part of the object
    (a hidden top face leaves the height to the sides that are still seen).
    """

    name: str
    center: np.ndarray | None
    pixels: int
    visible: float
    tilt: float | None
    sigma: float
    sigma_z: float

    @property
    def seen(self) -> bool:
        return self.center is not None

    def describe(self) -> str:
        if self.center is None:
            return f"{self.name} not seen"
        x, y, z = self.center
        return f"{self.name} at ({x:.2f},{y:.2f},{z:.3f}), {self.pixels} px"


@dataclass(frozen=True)
class _Colour:
    """The pixel test for one object's colour: hue ranges (OpenCV units, red wraps
    around 0) and a minimum saturation."""

    hue_ranges: list[tuple[int, int]]
    min_saturation: int
    name: str


@dataclass
class _Piece:
    """One colour component lifted to 3-D (world frame): its points, the centre votes
    of its clean-normal pixels and their normals, and the heights of its real top and
    bottom outline."""

    points: np.ndarray
    votes: np.ndarray = field(default_factory=lambda: np.empty((0, 3)))
    normals: np.ndarray = field(default_factory=lambda: np.empty((0, 3)))
    top_edge: np.ndarray = field(default_factory=lambda: np.empty(0))
    bottom_edge: np.ndarray = field(default_factory=lambda: np.empty(0))

    @staticmethod
    def merge(pieces: list[_Piece]) -> _Piece:
        return _Piece(
            *(
                np.concatenate([getattr(p, name) for p in pieces])
                for name in ("points", "votes", "normals", "top_edge", "bottom_edge")
            )
        )


def _confidence(margin: float, sigma: float) -> float:
    """How sure a threshold decision is: 0.5 on the threshold, near 1 a few sigma away."""
    return 0.5 + 0.5 * math.tanh(abs(margin) / max(sigma, 1e-9))


def _all(margins: list[tuple[float, float]]) -> tuple[bool, float]:
    """AND of threshold tests given as (margin, sigma), margin >= 0 meaning passed.

    True is as sure as the weakest passed test; False as sure as the most clearly
    failed one.
    """
    failed = [(m, s) for m, s in margins if m < 0]
    if failed:
        return False, max(_confidence(m, s) for m, s in failed)
    return True, min((_confidence(m, s) for m, s in margins), default=1.0)


class _Perception:
    """Everything decided about one observation: an answer for every ground fact."""

    def __init__(self, answers: dict[Fact, VqaAnswer]):
        self.answers = answers
        # Relations the domain has no predicate for were decided under a private name.
        self.facts = frozenset(
            f for f, a in answers.items() if a.answer is True and not f.predicate.startswith("_")
        )


class GeometricVqa:
    """Answers fact questions from an RGB-D frame and the grippers' proprioception.

    Args:
        scene: names, object colours and sizes, bin and zone rectangles, table height.
        config: thresholds and tolerances (defaults suit the packaged scenes).
    """

    name = "geometric"

    def __init__(self, scene: Scene, config: GeometricConfig | None = None):
        self.scene = scene
        self.config = config or GeometricConfig()
        self.table_top = float(scene.table.top_z)
        self.size = {name: float(spec.size) for name, spec in scene.objects.items()}
        self.relations, self.unsupported = _relations(scene)
        #: Places things are put *in* (walls) and *at* (marked regions), by the domain
        #: types of the `inside` and `within` predicates' second arguments.
        self.containers = _places_for(scene, self.relations["inside"])
        self.regions = _places_for(scene, self.relations["within"])
        #: What robots can carry objects on (`on_robot`) and the places a mobile robot
        #: can be at (`parked`), by the domain's predicate argument types.
        self.carriers = _robots_for(scene, self.relations["on_robot"])
        self.stands = _places_for(scene, self.relations["parked"])
        #: The height things stand on at each place (its own surface, else the table).
        self.surface = {
            name: float(spec.surface_z) if spec.surface_z is not None else self.table_top
            for name, spec in scene.places.items()
        }
        #: Objects this perceiver cannot see, with the reason (see `blind_spots`).
        self.unseen: dict[str, str] = {}
        self._colours = self._colour_models()
        self._frames: OrderedDict[int, tuple[CameraFrame, dict[str, ObjectSighting]]] = (
            OrderedDict()
        )
        self._observations: OrderedDict[int, tuple[Observation, _Perception]] = OrderedDict()
        self._rays: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._cos_agreement = math.cos(math.radians(self.config.normal_agreement_deg))

    # --- colour models -----------------------------------------------------------------

    def _colour_models(self) -> list[_Colour]:
        """One pixel test per object colour. Objects whose hue bands overlap could not be
        told apart, and colours too grey could not be told from the arms and the table:
        such objects are never seen (their facts: cannot tell), with a warning."""
        cfg = self.config
        refs: dict[str, tuple[int, int]] = {}
        for name, spec in self.scene.objects.items():
            rgb = np.clip(np.array(spec.rgba[:3]) * 255.0 + 0.5, 0, 255).astype(np.uint8)
            hue, sat, _ = cv2.cvtColor(rgb.reshape(1, 1, 3), cv2.COLOR_RGB2HSV)[0, 0]
            if sat < cfg.min_object_saturation * 255:
                self.unseen[name] = "too grey to segment by colour"
                continue
            refs[name] = (int(hue), int(sat))
        colours = []
        for name, (hue, sat) in refs.items():
            clash = [
                other
                for other, (h, _) in refs.items()
                if other != name and min(abs(h - hue), 180 - abs(h - hue)) <= 2 * cfg.hue_tolerance
            ]
            if clash:
                self.unseen[name] = f"cannot be told from {', '.join(clash)} by colour"
                continue
            lo, hi = hue - cfg.hue_tolerance, hue + cfg.hue_tolerance
            ranges = [(max(lo, 0), min(hi, 179))]
            if lo < 0:
                ranges.append((180 + lo, 179))
            if hi > 179:
                ranges.append((0, hi - 180))
            colours.append(_Colour(ranges, int(cfg.min_saturation_ratio * sat), name))
        return colours

    def unsupported_predicates(self, scene: Scene) -> dict[str, str]:
        """Perceived predicates of the scene's domain this perceiver cannot decide."""
        return dict(self.unsupported) if scene is self.scene else _relations(scene)[1]

    def blind_spots(self, scene: Scene) -> dict[str, str]:
        """Objects of `scene` this perceiver cannot see, each with the reason: facts about
        them are reported as uncheckable at load time instead of failing checks later."""
        return dict(self.unseen) if scene is self.scene else GeometricVqa(scene).unseen

    # --- per-frame perception ----------------------------------------------------------

    def perceive(self, frame: CameraFrame) -> dict[str, ObjectSighting]:
        """Where each object is in this frame (cached: a frame is segmented once)."""
        key = id(frame)
        hit = self._frames.get(key)
        if hit is not None and hit[0] is frame:
            self._frames.move_to_end(key)
            return hit[1]
        sightings = self._segment(frame)
        self._frames[key] = (frame, sightings)
        while len(self._frames) > self.config.cache_size:
            self._frames.popitem(last=False)
        return sightings

    def _pixel_rays(self, frame: CameraFrame) -> tuple[np.ndarray, np.ndarray]:
        """x/z per column and y/z per row (pixel centres), computed once per camera."""
        K = frame.K
        key = (frame.width, frame.height, *np.round(K[:2].ravel(), 6).tolist())
        rays = self._rays.get(key)
        if rays is None:
            du, dv = self.config.pixel_offset
            u = (np.arange(frame.width) + du - K[0, 2]) / K[0, 0]
            v = (np.arange(frame.height) + dv - K[1, 2]) / K[1, 1]
            rays = (u.astype(np.float32), v.astype(np.float32))
            self._rays[key] = rays
        return rays

    def _segment(self, frame: CameraFrame) -> dict[str, ObjectSighting]:
        """Colour masks, cleaned by an opening, split into components; tiny ones are
        noise. All per-frame work happens here, once."""
        cfg = self.config
        hsv = cv2.cvtColor(np.ascontiguousarray(frame.rgb), cv2.COLOR_RGB2HSV)
        depth = np.asarray(frame.depth, dtype=np.float32)
        min_px = max(3, round(cfg.min_pixels * frame.width * frame.height / (320 * 240)))
        kernel = np.ones((cfg.open_kernel, cfg.open_kernel), np.uint8)
        sightings = {
            name: ObjectSighting(name, None, 0, 0.0, None, 0.0, 0.0) for name in self.scene.objects
        }
        for colour in self._colours:
            mask = None
            for lo, hi in colour.hue_ranges:
                part = cv2.inRange(hsv, (lo, colour.min_saturation, cfg.min_value), (hi, 255, 255))
                mask = part if mask is None else cv2.bitwise_or(mask, part)
            if cfg.open_kernel > 1:
                mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
            # Label only the box around this colour's pixels (labelling the whole frame
            # was most of the per-frame cost at 640x480); stats and labels are mapped
            # back to frame coordinates.
            x, y, w, h = cv2.boundingRect(mask)
            if w == 0 or h == 0:
                continue
            count, crop_labels, stats, _ = cv2.connectedComponentsWithStats(
                mask[y : y + h, x : x + w], connectivity=8
            )
            stats[:, cv2.CC_STAT_LEFT] += x
            stats[:, cv2.CC_STAT_TOP] += y
            labels = np.zeros(mask.shape, np.int32)
            labels[y : y + h, x : x + w] = crop_labels
            parts = [k for k in range(1, count) if stats[k, cv2.CC_STAT_AREA] >= min_px]
            if not parts:
                continue
            sightings[colour.name] = self._locate(colour.name, frame, depth, labels, stats, parts)
        return sightings

    def _piece(
        self,
        frame: CameraFrame,
        depth: np.ndarray,
        labels: np.ndarray,
        stat: np.ndarray,
        label: int,
        size: float,
    ) -> _Piece:
        """Lift one component to 3-D: its points, the centre votes of the pixels with a
        clean face normal, and the heights of its top and bottom outline where nothing
        nearer the camera borders it (a real edge of the object, not an occluder's)."""
        x0, y0 = int(stat[cv2.CC_STAT_LEFT]), int(stat[cv2.CC_STAT_TOP])
        x1, y1 = x0 + int(stat[cv2.CC_STAT_WIDTH]), y0 + int(stat[cv2.CC_STAT_HEIGHT])
        # One pixel of margin: central differences and the outline's outer neighbours.
        x0, y0 = max(x0 - 1, 0), max(y0 - 1, 0)
        x1, y1 = min(x1 + 1, frame.width), min(y1 + 1, frame.height)
        ru, rv = self._pixel_rays(frame)
        d = depth[y0:y1, x0:x1]
        cam = np.stack((ru[None, x0:x1] * d, rv[y0:y1, None] * d, d), axis=-1)
        inside = (labels[y0:y1, x0:x1] == label) & np.isfinite(d) & (d > 0)
        R = frame.world_from_camera[:3, :3]
        t = frame.world_from_camera[:3, 3]
        piece = _Piece(points=cam[inside] @ R.T + t)
        h, w = inside.shape
        if h < 3 or w < 3:
            return piece
        piece.top_edge, piece.bottom_edge = self._outline_heights(cam, inside, R, t)
        # A pixel gets a normal when it and its 4 neighbours are all on the object.
        core = (
            inside[1:-1, 1:-1]
            & inside[:-2, 1:-1]
            & inside[2:, 1:-1]
            & inside[1:-1, :-2]
            & inside[1:-1, 2:]
        )
        if not core.any():
            return piece
        c = cam[1:-1, 1:-1][core]
        # cross(dv, du) points towards the camera for x right, y down, z forward.
        n_f = np.cross(cam[2:, 1:-1][core] - c, cam[1:-1, 2:][core] - c)
        n_b = np.cross(c - cam[:-2, 1:-1][core], c - cam[1:-1, :-2][core])
        n_f /= np.linalg.norm(n_f, axis=1, keepdims=True) + 1e-12
        n_b /= np.linalg.norm(n_b, axis=1, keepdims=True) + 1e-12
        # Forward and backward normals differ on a crease between two faces.
        agree = np.sum(n_f * n_b, axis=1) >= self._cos_agreement
        if not agree.any():
            return piece
        normals = n_f[agree] + n_b[agree]
        normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
        piece.normals = normals @ R.T
        piece.votes = (c[agree] @ R.T + t) - 0.5 * size * piece.normals
        return piece

    def _outline_heights(
        self, cam: np.ndarray, inside: np.ndarray, R: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """World heights of the object's upper and lower edges, one per image column
        whose outline pixel is a real edge: its outer neighbour is on the image and not
        nearer the camera (an occluder). A pixel centre lies inside the face, so the
        edge is put half a row step (measured in that column) beyond it."""
        h = inside.shape[0]
        columns = np.flatnonzero(inside.any(axis=0))
        top = np.argmax(inside[:, columns], axis=0)
        bottom = h - 1 - np.argmax(inside[::-1, columns], axis=0)
        gap = self.config.occlusion_gap
        world_z = cam @ R[2] + t[2]
        heights = []
        for rows, step in ((top, -1), (bottom, 1)):
            outer, inner = rows + step, rows - step
            ok = (outer >= 0) & (outer < h) & (inner >= 0) & (inner < h)
            rows, cols, outer, inner = rows[ok], columns[ok], outer[ok], inner[ok]
            ok = inside[inner, cols] & (cam[outer, cols, 2] >= cam[rows, cols, 2] - gap)
            rows, cols, inner = rows[ok], cols[ok], inner[ok]
            z = world_z[rows, cols]
            heights.append(z + 0.5 * (z - world_z[inner, cols]))
        return heights[0], heights[1]

    def _locate(
        self,
        name: str,
        frame: CameraFrame,
        depth: np.ndarray,
        labels: np.ndarray,
        stats: np.ndarray,
        parts: list[int],
    ) -> ObjectSighting:
        """The object's centre from its largest component and any piece of it split off
        by an occluder (a finger)."""
        size = self.size[name]
        parts = sorted(parts, key=lambda k: -int(stats[k, cv2.CC_STAT_AREA]))
        eye = frame.world_from_camera[:3, 3]
        pieces = [self._piece(frame, depth, labels, stats[k], k, size) for k in parts]
        centres = [self._centre(p, eye, size)[0] for p in pieces]
        keep = [
            p
            for p, c in zip(pieces, centres, strict=True)
            if np.linalg.norm(c - centres[0]) <= self.config.merge_distance * size
        ]
        if len(keep) < len(pieces):
            log.debug("%s: ignored %d far component(s)", name, len(pieces) - len(keep))
        merged = _Piece.merge(keep) if len(keep) > 1 else keep[0]
        centre, tilt, z_slack = self._centre(merged, eye, size)
        # Fraction of an unoccluded cube's projected area: s^2 * |v|_1 seen from
        # direction v, scaled to pixels with the off-axis foreshortening.
        cam_centre = frame.world_from_camera[:3, :3].T @ (centre - eye)
        r = float(np.linalg.norm(cam_centre))
        z = max(float(cam_centre[2]), 1e-6)
        view = (centre - eye) / max(r, 1e-9)
        f = float(frame.K[1, 1])
        expected = f * f * size * size * float(np.abs(view).sum()) * r / z**3
        pixels = int(merged.points.shape[0])
        visible = min(1.0, pixels / expected)
        base = max(self.config.min_sigma, r / f)
        sigma = base + max(0.0, 0.5 - visible) * size / 2
        return ObjectSighting(name, centre, pixels, visible, tilt, sigma, base + z_slack / 2)

    @staticmethod
    def _centre(
        piece: _Piece, eye: np.ndarray, size: float
    ) -> tuple[np.ndarray, float | None, float]:
        """Robust centre, tilt and height slack (metres of the height left uncertain).

        Height: from the top face when it is seen; else from the top outline (the
        upper edge of the sides: the bottom box of a stack) or the bottom outline,
        whichever is a real edge; else the middle of what is seen of the sides.
        Without clean normals (a sliver of an object): the mean surface point pushed back
        from the camera by half an edge.
        """
        votes, normals = piece.votes, piece.normals
        if votes.shape[0] < 3:
            mean = piece.points.mean(axis=0)
            view = mean - eye
            view /= np.linalg.norm(view) + 1e-12
            # The visible faces' centroid sits (s/2) v/|v|_1 in front of a cube's centre.
            return mean + 0.5 * size * view / np.abs(view).sum(), None, size / 2
        centre = np.median(votes, axis=0)
        up = normals[:, 2] > 0.7
        if np.count_nonzero(up) >= 3:
            # Top-face votes fix the height exactly; side votes spread over a face.
            centre[2] = float(np.median(votes[up, 2]))
            return centre, math.acos(min(1.0, float(np.median(normals[up, 2])))), 0.0
        extent = float(np.ptp(piece.points[:, 2]))
        slack = max(0.0, size - extent)
        tops = piece.top_edge if piece.top_edge.size >= 2 else piece.top_edge[:0]
        bottoms = piece.bottom_edge if piece.bottom_edge.size >= 2 else piece.bottom_edge[:0]
        if (
            tops.size
            and bottoms.size
            and abs(float(np.median(tops)) - float(np.median(bottoms)) - size) > 0.2 * size
        ):
            # Outlines not one edge length apart: one is an occluder's or a sliver's. The
            # outline seen in at least twice as many columns, agreeing among themselves,
            # is taken (the bottom block of a tower: its edge on the table in 12 columns,
            # a sliver beside the block on it in 3, put it 1.2 cm low); else neither.
            heights = sorted((tops - size / 2, bottoms + size / 2), key=len)
            few, many = heights
            quartiles = np.percentile(many, [25, 75])
            if len(many) < 2 * len(few) or quartiles[1] - quartiles[0] > 0.1 * size:
                return centre, None, slack
            centre[2] = float(np.median(many))
            return centre, None, min(slack, 0.1 * size)
        if not tops.size and not bottoms.size:
            return centre, None, slack
        # Each outline column is one measurement of the height, and all of them vote: a
        # middle block of a tower shows a real top edge in only a column or two (where
        # the block on it sits a few millimetres back), which alone put it 1.1 cm low.
        centre[2] = float(np.median(np.concatenate((tops - size / 2, bottoms + size / 2))))
        return centre, None, min(slack, 0.1 * size)

    # --- decisions -----------------------------------------------------------------------

    def _perception(self, observation: Observation) -> _Perception:
        """The answers for one observation (cached: grippers are part of it)."""
        key = id(observation)
        hit = self._observations.get(key)
        if hit is not None and hit[0] is observation:
            self._observations.move_to_end(key)
            return hit[1]
        sightings = self.perceive(observation.frame)
        for view in observation.views:  # what the main camera misses, from another one
            unseen = [name for name, sighting in sightings.items() if not sighting.seen]
            if not unseen:
                break
            other = self.perceive(view)
            sightings = {**sightings, **{n: other[n] for n in unseen if other[n].seen}}
        perception = _Perception(self._decide(sightings, observation.grippers, observation.bases))
        self._observations[key] = (observation, perception)
        while len(self._observations) > self.config.cache_size:
            self._observations.popitem(last=False)
        return perception

    def _beneath(
        self, seen: dict[str, ObjectSighting], held: dict[str, bool | None]
    ) -> dict[str, ObjectSighting]:
        """Sightings with an object hidden under another filled in.

        A block dropped onto another so that it overhangs the camera side hides the
        lower one completely, and the planner then cannot find it ("not seen"). When
        exactly one object is out of sight and in no hand, and exactly one resting object
        stands one such object's height above the table with nothing seen under it, the
        hidden one is taken to be under it (with the confidence of a barely seen object).
        """
        cfg = self.config
        hidden = [o for o, s in seen.items() if not s.seen and held[o] is False]
        if len(hidden) != 1:
            return seen
        obj = hidden[0]
        size = self.size[obj]
        resting = {o: s for o, s in seen.items() if s.seen and held[o] is False}
        raised = []
        for top, s in resting.items():
            if self._in_container(s.center):
                continue  # half hidden by the walls, its height is a poor clue
            bottom = float(s.center[2]) - self.size[top] / 2
            if abs(bottom - self.table_top - size) > cfg.table_gap + 2 * s.sigma_z:
                continue
            under = any(
                abs(float(o.center[2]) + self.size[name] / 2 - bottom) < 0.5 * size
                and float(np.linalg.norm(o.center[:2] - s.center[:2]))
                < cfg.on_offset * self.size[name]
                for name, o in resting.items()
                if name != top
            )
            if not under:
                raised.append(top)
        if len(raised) != 1:
            return seen
        top = seen[raised[0]]
        center = np.asarray(top.center, dtype=float) - [
            0.0,
            0.0,
            (self.size[raised[0]] + size) / 2,
        ]
        guess = ObjectSighting(
            obj,
            center,
            0,
            cfg.beneath_visibility,
            None,
            max(top.sigma, size / 4),
            max(top.sigma_z, cfg.min_sigma),
        )
        return {**seen, obj: guess}

    def _in_container(self, center: Sequence[float]) -> bool:
        """Whether `center` lies within a container's footprint. A block seen in a bin
        is not taken to stand on one hidden under it: the walls hide its lower part, and
        its measured height then passes for one block above the table (clutter seed 1:
        a block in the left bin, hidden by the arm working there, was "seen" under a
        block in the right bin, and the run re-planned until its budget ran out)."""
        for spec in self.containers.values():
            half = np.asarray(spec.size[:2], dtype=float) / 2
            offset = np.abs(np.asarray(center[:2], dtype=float) - spec.position[:2])
            if bool(np.all(offset <= half)):
                return True
        return False

    def _holding(
        self,
        robot: str,
        obj: str,
        gripper: GripperState | None,
        seen: ObjectSighting,
    ) -> VqaAnswer:
        """Proprioception (finger opening) first; then the object at the tool point."""
        cfg = self.config
        if gripper is None:
            return VqaAnswer(None, 0.0, f"no gripper state for {robot}")
        size = self.size[obj]
        width = float(gripper.width)
        width_margin = min(
            width - (size - cfg.hold_width_below), size + cfg.hold_width_above - width
        )
        fingers = f"fingers {width * 100:.1f} cm apart"
        if width_margin < 0:
            return VqaAnswer(
                False,
                _confidence(width_margin, cfg.width_sigma),
                f"{robot} {fingers}: not closed on an object",
            )
        if not seen.seen:
            return VqaAnswer(None, 0.0, f"{obj} not seen; {robot} {fingers}")
        tool = np.asarray(gripper.position, dtype=float)
        distance = float(np.linalg.norm(seen.center - tool))
        above = float(seen.center[2]) - (self.table_top + size / 2 - cfg.table_gap)
        value, conf = _all(
            [
                (width_margin, cfg.width_sigma),
                (cfg.hold_radius - distance, max(seen.sigma, seen.sigma_z)),
                (above, seen.sigma_z),
            ]
        )
        evidence = f"{seen.describe()}; tool {distance * 100:.1f} cm away, {fingers}"
        return VqaAnswer(value, conf * _quality(seen), evidence)

    def _decide(
        self,
        seen: dict[str, ObjectSighting],
        grippers: dict[str, GripperState],
        bases: Mapping[str, BaseState] | None = None,
    ) -> dict[Fact, VqaAnswer]:
        """An answer for every ground fact of the scene, decided together so that they
        are consistent (a held object is nowhere else, clear and at follow derive())."""
        cfg = self.config
        scene = self.scene
        R = self.relations  # relation -> the domain's predicate for it
        objects = list(scene.objects)
        out: dict[Fact, VqaAnswer] = {}

        # holding / gripper_empty -------------------------------------------------------
        held: dict[str, bool | None] = {obj: False for obj in objects}
        claimed: set[str] = set()
        for robot in scene.robots:
            gripper = grippers.get(robot)
            answers = {obj: self._holding(robot, obj, gripper, seen[obj]) for obj in objects}
            yes = [obj for obj, a in answers.items() if a.answer is True]
            if len(yes) > 1:  # one hand holds one object: the nearest to the tool point
                tool = np.asarray(gripper.position, dtype=float)  # type: ignore[union-attr]
                best = min(yes, key=lambda obj: float(np.linalg.norm(seen[obj].center - tool)))
                for obj in yes:
                    if obj != best:
                        answers[obj] = VqaAnswer(
                            False, answers[obj].confidence * 0.8, f"{best} is nearer the tool"
                        )
                yes = [best]
            unsure = [obj for obj, a in answers.items() if a.answer is None]
            if yes:  # the hand already holds a seen object, not an unseen one
                for obj in unsure:
                    answers[obj] = VqaAnswer(False, 0.8, f"{robot} holds {yes[0]}")
            elif len(unsure) == 1 and unsure[0] not in claimed and gripper is not None:
                # Fingers stopped at an object's width on something, every other object is
                # seen elsewhere: the one out of sight is the one hidden by the hand.
                obj = unsure[0]
                answers[obj] = VqaAnswer(
                    True,
                    cfg.unseen_hold_confidence,
                    f"{obj} not seen, all other objects seen away from {robot}; "
                    f"fingers {gripper.width * 100:.1f} cm apart",
                )
                yes = [obj]
            claimed.update(yes)
            for obj in objects:
                out[Fact(R["gripped"], (robot, obj))] = answers[obj]
            for obj in objects:
                a = answers[obj]
                if a.answer is True:
                    held[obj] = True
                elif a.answer is None and held[obj] is False and gripper is not None:
                    held[obj] = None  # seen nowhere, and this hand may hide it
            empty = Fact(R["gripper_free"], (robot,))
            if gripper is None:
                out[empty] = VqaAnswer(None, 0.0, f"no gripper state for {robot}")
            elif yes:
                out[empty] = VqaAnswer(False, answers[yes[0]].confidence, answers[yes[0]].evidence)
            elif any(a.answer is None for a in answers.values()):
                unseen = [obj for obj, a in answers.items() if a.answer is None]
                out[empty] = VqaAnswer(
                    None,
                    0.0,
                    f"{robot} closed to {gripper.width * 100:.1f} cm; "
                    f"{', '.join(unseen)} not seen",
                )
            else:
                conf = min(a.confidence for a in answers.values())
                near = min(answers.values(), key=lambda a: a.confidence)
                out[empty] = VqaAnswer(True, conf, near.evidence)

        # places -----------------------------------------------------------------------
        seen = self._beneath(seen, held)
        placed = {obj: seen[obj].seen and held[obj] is False for obj in objects}

        def unknown(obj: str) -> VqaAnswer:
            if not seen[obj].seen:
                return VqaAnswer(None, 0.0, f"{obj} not seen")
            if held[obj]:
                return VqaAnswer(False, _held_confidence(out, obj, R["gripped"]), f"{obj} is held")
            return VqaAnswer(None, 0.0, f"{obj} may be held")

        in_bin: dict[str, VqaAnswer] = {}
        for obj in objects:
            s = seen[obj]
            size = self.size[obj]
            best_in: VqaAnswer | None = None
            for bin_name, spec in self.containers.items():
                fact = Fact(R["inside"], (obj, bin_name))
                if not placed[obj]:
                    out[fact] = unknown(obj)
                    continue
                x, y, z = s.center
                inside = min(
                    spec.size[0] / 2 + cfg.bin_margin - abs(x - spec.position[0]),
                    spec.size[1] / 2 + cfg.bin_margin - abs(y - spec.position[1]),
                )
                floor = self.surface[bin_name]
                rim = floor + cfg.bin_wall_height + cfg.bin_above_rim * size
                value, conf = _all(
                    [(inside, s.sigma), (rim - z, s.sigma_z), (z - floor, s.sigma_z)]
                )
                answer = VqaAnswer(value, conf * _quality(s), f"{s.describe()}; {bin_name}")
                out[fact] = answer
                if value and (best_in is None or answer.confidence > best_in.confidence):
                    best_in = answer
            if best_in is not None:
                in_bin[obj] = best_in
            elif placed[obj]:
                in_bin[obj] = VqaAnswer(False, 1.0, "")

        for obj in objects:
            s = seen[obj]
            size = self.size[obj]
            edge: tuple[float, str] | None = None  # the zone whose edge the object is nearest
            for zone, spec in self.regions.items():
                fact = Fact(R["within"], (obj, zone))
                if not placed[obj]:
                    out[fact] = unknown(obj)
                    continue
                if in_bin[obj].answer:
                    out[fact] = VqaAnswer(False, in_bin[obj].confidence, in_bin[obj].evidence)
                    continue
                x, y, z = s.center
                inside = min(
                    spec.size[0] / 2 - abs(x - spec.center[0]),
                    spec.size[1] / 2 - abs(y - spec.center[1]),
                )
                height = z - self.surface[zone]
                heights = [(cfg.at_max_height - height, s.sigma_z), (height, s.sigma_z)]
                value, conf = _all([(inside, s.sigma), *heights])
                out[fact] = VqaAnswer(value, conf * _quality(s), f"{s.describe()}; {zone}")
                if not value and _all(heights)[0] and (edge is None or inside > edge[0]):
                    edge = (inside, zone)
            # An object in no place whose footprint reaches into a zone (fallen just past
            # the zones' outer edge, beside a bin) is in that zone: the zones tile the work
            # area, and an object in no place is one no robot is known to reach.
            in_zone = any(out[Fact(R["within"], (obj, zone))].answer for zone in self.regions)
            if edge is not None and not in_zone and not in_bin[obj].answer:
                overlap = edge[0] + cfg.zone_overlap * size
                if overlap >= 0:
                    out[Fact(R["within"], (obj, edge[1]))] = VqaAnswer(
                        True,
                        _confidence(overlap, s.sigma) * _quality(s),
                        f"{s.describe()}; {-edge[0] * 100:.1f} cm past {edge[1]}'s edge",
                    )
            fact = Fact(R["on_surface"], (obj,))
            if not placed[obj]:
                out[fact] = unknown(obj)
            elif in_bin[obj].answer:
                out[fact] = VqaAnswer(False, in_bin[obj].confidence, in_bin[obj].evidence)
            else:
                gap = float(s.center[2]) - size / 2 - self.table_top
                tests = [(cfg.table_gap - abs(gap), s.sigma_z)]
                if s.tilt is not None:
                    tests.append((math.radians(cfg.max_tilt_deg) - s.tilt, math.radians(5)))
                value, conf = _all(tests)
                tilt = "" if s.tilt is None else f", tilt {math.degrees(s.tilt):.0f}°"
                out[fact] = VqaAnswer(
                    value,
                    conf * _quality(s),
                    f"{s.describe()}; bottom {gap * 100:+.1f} cm from the table{tilt}",
                )

        bases = bases or {}
        for obj in objects:
            for robot in self.carriers:
                fact = Fact(R["on_robot"], (obj, robot))
                state = bases.get(robot)
                if state is None:
                    out[fact] = VqaAnswer(None, 0.0, f"no odometry for {robot}")
                elif not placed[obj]:
                    out[fact] = unknown(obj)
                else:
                    out[fact] = self._on_tray(obj, seen[obj], robot, state)
        for robot, state in bases.items():
            for place, spec in self.stands.items():
                out[Fact(R["parked"], (robot, place))] = self._parked(robot, state, place, spec)

        for obj in objects:
            for other in objects:
                if other == obj:
                    continue
                fact = Fact(R["stacked"], (obj, other))
                if not placed[obj]:
                    out[fact] = unknown(obj)
                    continue
                if not placed[other]:
                    out[fact] = unknown(other)
                    continue
                top, below = seen[obj], seen[other]
                size = self.size[obj]
                rise = float(top.center[2] - below.center[2])
                offset = float(np.linalg.norm(top.center[:2] - below.center[:2]))
                sigma_z = math.hypot(top.sigma_z, below.sigma_z)
                sigma = math.hypot(top.sigma, below.sigma)
                lo, hi = cfg.on_height
                value, conf = _all(
                    [
                        (rise - lo * size, sigma_z),
                        (hi * size - rise, sigma_z),
                        (cfg.on_offset * self.size[other] - offset, sigma),
                    ]
                )
                out[fact] = VqaAnswer(
                    value,
                    conf * min(_quality(top), _quality(below)),
                    f"{obj} {rise * 100:+.1f} cm above {other}, {offset * 100:.1f} cm aside",
                )

        # derived: clear, and at for objects stacked in a zone (as in facts.derive) -----
        for obj in objects:
            fact = Fact(R["uncovered"], (obj,))
            if held[obj]:
                out[fact] = VqaAnswer(
                    False, _held_confidence(out, obj, R["gripped"]), f"{obj} is held"
                )
                continue
            if not seen[obj].seen:
                out[fact] = VqaAnswer(None, 0.0, f"{obj} not seen")
                continue
            on_top = [out[Fact(R["stacked"], (o, obj))] for o in objects if o != obj]
            covering = [a for a in on_top if a.answer is True]
            if covering:
                best = max(covering, key=lambda a: a.confidence)
                out[fact] = VqaAnswer(False, best.confidence, best.evidence)
            elif held[obj] is None:
                out[fact] = VqaAnswer(None, 0.0, f"{obj} may be held")
            else:
                unseen = [o for o in objects if o != obj and not seen[o].seen]
                conf = min((a.confidence for a in on_top if a.answer is False), default=1.0)
                if unseen:
                    conf = min(conf, cfg.unseen_clear_confidence)
                note = f"; {', '.join(unseen)} not seen" if unseen else ""
                out[fact] = VqaAnswer(True, conf, f"nothing seen on {obj}{note}")
        for obj in objects:
            chain, below = [obj], self._support(out, obj)
            while below is not None and below not in chain:
                chain.append(below)
                for zone in self.regions:
                    base = out[Fact(R["within"], (below, zone))]
                    fact = Fact(R["within"], (obj, zone))
                    if base.answer and not out[fact].answer:
                        out[fact] = VqaAnswer(
                            True, base.confidence, f"{obj} stacked on {below}, at {zone}"
                        )
                if any(out[Fact(R["within"], (below, z))].answer for z in self.regions):
                    break
                below = self._support(out, below)
        return out

    def _on_tray(self, obj: str, s: ObjectSighting, robot: str, state: BaseState) -> VqaAnswer:
        """The object stands on the robot's tray: inside its footprint (in the base's
        frame, from odometry) with its bottom on the tray's top."""
        cfg = self.config
        offset = s.center[:2] - np.asarray(state.tray_top[:2], dtype=float)
        cos, sin = math.cos(state.yaw), math.sin(state.yaw)
        along, across = cos * offset[0] + sin * offset[1], -sin * offset[0] + cos * offset[1]
        inside = min(
            state.tray_size[0] / 2 + cfg.bin_margin - abs(along),
            state.tray_size[1] / 2 + cfg.bin_margin - abs(across),
        )
        gap = float(s.center[2]) - self.size[obj] / 2 - float(state.tray_top[2])
        value, conf = _all([(inside, s.sigma), (cfg.table_gap - abs(gap), s.sigma_z)])
        evidence = f"{s.describe()}; bottom {gap * 100:+.1f} cm from {robot}'s tray"
        return VqaAnswer(value, conf * _quality(s), evidence)

    def _in_bay(self, state: BaseState, bay: Sequence[float]) -> tuple[bool | None, float]:
        """The base stands in the bay (position and heading, odometry)."""
        cfg = self.config
        xy = np.asarray(state.center[:2], dtype=float)
        distance = float(np.linalg.norm(xy - np.asarray(bay[:2], dtype=float)))
        turn = abs(math.remainder(state.yaw - bay[2], math.tau))
        return _all(
            [
                (cfg.bay_tolerance - distance, cfg.odometry_sigma),
                (math.radians(cfg.bay_yaw_tolerance_deg) - turn, math.radians(2.0)),
            ]
        )

    def _parked(self, robot: str, state: BaseState, place: str, spec: Any) -> VqaAnswer:
        """The base stands in one of the place's bays (odometry); or inside a floor area
        with bays and no surface of its own (a dock); or inside a floor area without bays
        (the aisle: a drive halted half-way) and in no bay of any place."""
        cfg = self.config
        xy = np.asarray(state.center[:2], dtype=float)
        tests = [self._in_bay(state, bay) for bay in spec.bays]
        if spec.surface_z is None:
            inside = min(
                spec.size[0] / 2 - abs(xy[0] - spec.center[0]),
                spec.size[1] / 2 - abs(xy[1] - spec.center[1]),
            )
            if spec.bays:
                tests.append(_all([(inside, cfg.odometry_sigma)]))
            else:
                elsewhere = [
                    self._in_bay(state, bay)
                    for other in self.stands.values()
                    for bay in other.bays
                ]
                within, sure = _all([(inside, cfg.odometry_sigma)])
                parked = [c for v, c in elsewhere if v]
                if not within:
                    tests.append((False, sure))
                elif parked:  # in a bay: at that bay's place instead
                    tests.append((False, max(parked)))
                else:  # as sure as the least sure "not in that bay"
                    tests.append((True, min([sure, *(c for _, c in elsewhere)])))
        # OR over the bays: as sure as the surest pass, else as the least sure failure.
        passed = [c for v, c in tests if v]
        best = (True, max(passed)) if passed else (False, min((c for _, c in tests), default=1.0))
        where = f"{robot} at ({xy[0]:.2f}, {xy[1]:.2f}), heading {math.degrees(state.yaw):.0f}°"
        return VqaAnswer(best[0], best[1], f"{where}; {place}")

    def _support(self, out: dict[Fact, VqaAnswer], obj: str) -> str | None:
        """The object `obj` was decided to stand on, if any."""
        R = self.relations  # relation -> the domain's predicate for it
        for fact, answer in out.items():
            if fact.predicate == R["stacked"] and fact.args[0] == obj and answer.answer:
                return fact.args[1]
        return None

    # --- the VqaBackend interface ------------------------------------------------------

    def _known(self, fact: Fact) -> str | None:
        """Why a fact cannot be asked about in this scene (None when it can)."""
        try:
            self.scene.check_fact(fact)
        except FactError as exc:
            return str(exc)
        return None

    def answer(self, observation: Observation, question: str, fact: Fact) -> VqaAnswer:
        """Decide `fact` (the question is not parsed: the fact says what is asked)."""
        problem = self._known(fact)
        if problem is not None:
            return VqaAnswer(None, 0.0, problem)
        if fact.predicate == self.relations["stacked"] and fact.args[0] == fact.args[1]:
            return VqaAnswer(False, 1.0, "an object cannot be on itself")
        answer = self._perception(observation).answers.get(fact)
        if answer is None:
            return VqaAnswer(None, 0.0, f"no decision for {fact}")
        return answer

    def estimate_facts(self, observation: Observation) -> frozenset[Fact]:
        """Every fact perceived to hold in this observation (for re-planning)."""
        return self._perception(observation).facts


#: What this perceiver can decide from geometry and gripper state; a domain names the
#: predicate for each with ``geometry:`` (tabletop: on, in, at, on_table, holding,
#: gripper_empty, clear).
RELATIONS = {
    "stacked": "object 0 rests on top of object 1",
    "inside": "object 0 is inside container place 1 (below its rim)",
    "within": "object 0 stands low in the marked region place 1",
    "on_surface": "object 0 stands directly on the work surface",
    "gripped": "robot 0 holds object 1 between its fingers",
    "gripper_free": "robot 0 holds nothing",
    "uncovered": "nothing stands on object 0 and no robot holds it",
    "on_robot": "object 0 stands on robot 1's tray (odometry + camera)",
    "parked": "robot 0 stands in a bay of place 1 (odometry)",
}


def _relations(scene: Scene) -> tuple[dict[str, str], dict[str, str]]:
    """relation -> the domain's predicate for it (a private placeholder when the domain
    has none), and the perceived predicates no relation covers (with why)."""
    named = {
        spec.geometry: name
        for name, spec in scene.domain.predicates.items()
        if spec.geometry is not None
    }
    relations = {rel: named.get(rel, f"_{rel}") for rel in RELATIONS}
    unsupported = {}
    for name, spec in scene.domain.predicates.items():
        if spec.geometry is not None and spec.geometry not in RELATIONS:
            unsupported[name] = (
                f"unknown geometry '{spec.geometry}' (known: {', '.join(RELATIONS)})"
            )
        elif spec.observed == "perceived" and spec.geometry is None:
            unsupported[name] = "no geometry relation is declared for it"
    return relations, unsupported


def _places_for(scene: Scene, predicate: str) -> dict[str, Any]:
    """The places that can be the second argument of `predicate`."""
    spec = scene.domain.predicates.get(predicate)
    if spec is None or len(spec.args) != 2:
        return {}
    return scene.places_of(spec.args[1])


def _robots_for(scene: Scene, predicate: str) -> list[str]:
    """The robots that can be the second argument of `predicate`."""
    spec = scene.domain.predicates.get(predicate)
    if spec is None or len(spec.args) != 2:
        return []
    return [r for r in scene.robots if scene.is_a(r, spec.args[1])]


def _quality(seen: ObjectSighting) -> float:
    """Scales confidences down for a mostly hidden object (few pixels to go on)."""
    return 0.6 + 0.4 * min(1.0, seen.visible / 0.5)


def _held_confidence(out: dict[Fact, VqaAnswer], obj: str, gripped: str) -> float:
    """Confidence of the `gripped` fact that made `obj` held."""
    return max(
        (
            a.confidence
            for f, a in out.items()
            if f.predicate == gripped and f.args[1] == obj and a.answer
        ),
        default=0.5,
    )
