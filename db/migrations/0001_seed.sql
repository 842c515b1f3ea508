-- The seed design's schema, verbatim (ORIGINAL-DESIGN.md, "Database Schema").
-- IF NOT EXISTS: a database written by the seed logger is at user_version 0
-- and already holds these tables; this step then only stamps the version.

CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp INTEGER NOT NULL,           -- Unix timestamp in nanoseconds
    filename TEXT NOT NULL,               -- Original filename
    width INTEGER NOT NULL,               -- Image width in pixels
    height INTEGER NOT NULL,              -- Image height in pixels
    channels INTEGER NOT NULL,            -- Number of color channels
    data_size INTEGER NOT NULL,           -- Size of image data in bytes
    image_data BLOB NOT NULL,             -- Raw image data
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS keypoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    image_id INTEGER NOT NULL,            -- Foreign key to images
    x REAL NOT NULL,                      -- X coordinate
    y REAL NOT NULL,                      -- Y coordinate
    size REAL NOT NULL,                   -- Keypoint size
    angle REAL NOT NULL,                  -- Orientation angle
    response REAL NOT NULL,               -- Corner response
    octave INTEGER NOT NULL,              -- Scale octave
    FOREIGN KEY (image_id) REFERENCES images(id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS descriptors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    image_id INTEGER NOT NULL,            -- Foreign key to images
    descriptor_data BLOB NOT NULL,        -- Binary descriptor data
    FOREIGN KEY (image_id) REFERENCES images(id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS idx_keypoints_image_id ON keypoints(image_id);
CREATE INDEX IF NOT EXISTS idx_descriptors_image_id ON descriptors(image_id);
CREATE INDEX IF NOT EXISTS idx_images_filename ON images(filename);
