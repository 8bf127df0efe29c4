// Hand-written behavioural baseline of a weight-stationary R x C array (y = x @ W), the way an
// RTL engineer writes it when a controller does the scheduling: no stream handshake, no skew
// registers (the controller feeds x[r] r cycles late), weights loaded through a shift chain
// down the columns, partial sums moving down, the bottom row's sums exposed.
//
//   load, w_in[c] (B_WIDTH each): with load = 1, W moves one PE down per cycle in every column
//            (w_in enters row 0): R cycles load a tile, row R-1's weights first
//   en, x_in[r] (A_WIDTH each): x moves one PE right per cycle; psum(r, c) = psum(r-1, c) +
//            x * W[r][c] moves one PE down per cycle
//   y[c]     (ACC_WIDTH each, two's complement): the partial sum leaving row R-1 of column c;
//            y for the vector whose x[0] entered in cycle t appears in column c at t + R + c
//
// Registers per PE: B_WIDTH (W) + A_WIDTH (x) + ACC_WIDTH (psum): 4x4 int8 acc32: 768.
`default_nettype none

module ws_array_baseline #(
    parameter integer ROWS      = 4,
    parameter integer COLS      = 4,
    parameter integer A_WIDTH   = 8,
    parameter integer B_WIDTH   = 8,
    parameter integer ACC_WIDTH = 32
) (
    input  wire                           clk,
    input  wire                           rst,
    input  wire                           load,
    input  wire                           en,
    input  wire [COLS*B_WIDTH-1:0]        w_in,
    input  wire [ROWS*A_WIDTH-1:0]        x_in,
    output wire [COLS*ACC_WIDTH-1:0]      y
);
    wire [B_WIDTH-1:0]   w_bus [0:ROWS][0:COLS-1];
    wire [A_WIDTH-1:0]   x_bus [0:ROWS-1][0:COLS];
    wire [ACC_WIDTH-1:0] p_bus [0:ROWS][0:COLS-1];

    genvar r, c;
    generate
        for (c = 0; c < COLS; c = c + 1) begin : g_top
            assign w_bus[0][c] = w_in[c*B_WIDTH +: B_WIDTH];
            assign p_bus[0][c] = {ACC_WIDTH{1'b0}};
            assign y[c*ACC_WIDTH +: ACC_WIDTH] = p_bus[ROWS][c];
        end
        for (r = 0; r < ROWS; r = r + 1) begin : g_left
            assign x_bus[r][0] = x_in[r*A_WIDTH +: A_WIDTH];
        end
        for (r = 0; r < ROWS; r = r + 1) begin : g_row
            for (c = 0; c < COLS; c = c + 1) begin : g_col
                reg [B_WIDTH-1:0]   w_q;
                reg [A_WIDTH-1:0]   x_q;
                reg [ACC_WIDTH-1:0] p_q;
                wire signed [A_WIDTH+B_WIDTH-1:0] product = $signed(x_bus[r][c]) * $signed(w_q);
                always @(posedge clk) begin
                    if (rst) begin
                        w_q <= {B_WIDTH{1'b0}};
                        x_q <= {A_WIDTH{1'b0}};
                        p_q <= {ACC_WIDTH{1'b0}};
                    end else begin
                        if (load)
                            w_q <= w_bus[r][c];
                        if (en) begin
                            x_q <= x_bus[r][c];
                            p_q <= p_bus[r][c] + {{(ACC_WIDTH-A_WIDTH-B_WIDTH){product[A_WIDTH+B_WIDTH-1]}}, product};
                        end
                    end
                end
                assign w_bus[r+1][c] = w_q;
                assign x_bus[r][c+1] = x_q;
                assign p_bus[r+1][c] = p_q;
            end
        end
    endgenerate
endmodule
