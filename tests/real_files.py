"""The real instrument sample files of the shared data and what each must read as.

Shared by the core reader tests and the napari reader tests; the files are
found through the ``formats`` fixture (tests/conftest.py).
"""

from __future__ import annotations

# (relative path, format, (H, W, B), first cm-1, last cm-1, pixel size um or None)
REAL_FILES = [
    ("envi_openspecy/CA_small_UF.hdr", "envi", (13, 16, 427), 717.42, 4003.67, 25.0),
    ("envi_openspecy/CA_small_UF.dat", "envi", (13, 16, 427), 717.42, 4003.67, 25.0),
    ("agilent_single_tile/4_noimage_agg256.seq", "agilent", (8, 8, 9), 1990.1782, 2113.6001, 88.0),
    ("agilent_single_tile/4_noimage_agg256.dat", "agilent", (8, 8, 9), 1990.1782, 2113.6001, 88.0),
    ("agilent_single_tile/4_noimage_agg256.bsp", "agilent", (8, 8, 9), 1990.1782, 2113.6001, 88.0),
    ("agilent_single_tile/4_noimage_agg256.hdr", "agilent", (8, 8, 9), 1990.1782, 2113.6001, 88.0),
    (
        "agilent_mosaic/5_mosaic_agg1024.dmt",
        "agilent_mosaic",
        (8, 4, 9),
        1990.1782,
        2113.6001,
        176.0,
    ),
    (
        "agilent_mosaic/5_Mosaic_agg1024.dms",
        "agilent_mosaic",
        (8, 4, 9),
        1990.1782,
        2113.6001,
        176.0,
    ),
    (
        "agilent_mosaic/5_Mosaic_agg1024_0000_0001.dmd",
        "agilent_mosaic",
        (8, 4, 9),
        1990.1782,
        2113.6001,
        176.0,
    ),
    (
        "agilent_mosaic/5_mosaic_agg1024.hdr",
        "agilent_mosaic",
        (8, 4, 9),
        1990.1782,
        2113.6001,
        176.0,
    ),
    ("opus/brukeropus_example_file.0", "opus", (1, 1, 4927), 499.404, 9997.721, None),
    ("omnic/sample1.spa", "omnic_spa", (1, 1, 1738), 649.9036, 3999.7031, None),
    ("omnic/small_Omnic.map", "omnic_map", (2, 2, 14), 1604.51, 1805.0741, 10.0),
    ("perkinelmer/4x4_pixel_PE_image.fsm", "perkinelmer_fsm", (4, 4, 1626), 750.0, 4000.0, 50.0),
    ("perkinelmer/single_PE_spectrum.sp", "perkinelmer_sp", (1, 1, 1626), 750.0, 4000.0, None),
]

#: The files that hold an image (more than one pixel).
IMAGING = [f for f in REAL_FILES if f[2][0] * f[2][1] > 1]
