"""Episodes on disk (one HDF5 file each), dataset folders, and conversions into them."""
